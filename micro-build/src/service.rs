//! The service templates: handler trait, descriptor, client and server, as tokens.
//!
//! Every path is absolute (`::core`, `::std`, `::micro_runtime::codegen`) so nothing the
//! user declares next to the generated code can shadow it.

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use crate::http_rules::Binding;
use crate::model::{Kind, Method, Service};

/// Which halves of a service to generate; the trait and descriptor are always there.
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    /// `XClient` and its handler impl.
    pub client: bool,
    /// `XServer`.
    pub server: bool,
}

/// All the code for one service.
pub fn service(service: &Service, parts: Parts) -> TokenStream {
    let mut tokens = handler_trait(service);
    tokens.extend(descriptor(service));
    if parts.client {
        tokens.extend(crate::client::client(service));
    }
    if parts.server {
        tokens.extend(server(service));
    }
    tokens
}

/// `#[doc]` attributes for proto comment lines, or `fallback` when there are none.
pub fn doc(lines: &[String], fallback: &str) -> TokenStream {
    let lines: Vec<String> = if lines.iter().all(|l| l.trim().is_empty()) {
        vec![fallback.to_owned()]
    } else {
        lines.to_vec()
    };
    lines
        .iter()
        .map(|line| {
            // prettyplease prints `#[doc = " x"]` as `/// x`; protoc keeps the space, add it if not.
            let line = if line.is_empty() || line.starts_with(' ') {
                line.clone()
            } else {
                format!(" {line}")
            };
            quote!(#[doc = #line])
        })
        .collect()
}

/// Doc of an rpc-derived item: its proto comment, or a sentence naming the endpoint.
pub fn method_doc(method: &Method) -> TokenStream {
    doc(&method.docs, &format!("Calls `{}`.", method.endpoint))
}

fn handler_trait(service: &Service) -> TokenStream {
    let trait_name = format_ident!("{}Handler", service.rust_name);
    let mut lines = service.docs.clone();
    if !lines.is_empty() {
        lines.push(String::new());
    }
    lines.push(format!(
        " Implement this trait to serve `{}`; each method handles one endpoint.",
        service.name
    ));
    let docs = doc(&lines, "");
    let methods = service.methods.iter().map(|m| {
        let docs = method_doc(m);
        let name = &m.rust_name;
        let (input, output) = (&m.input, &m.output);
        let args = match m.kind {
            Kind::Unary => quote!(req: #input),
            Kind::ServerStream => {
                quote!(req: #input, stream: ::micro_runtime::codegen::Sender<#output>)
            }
            Kind::ClientStream => quote!(stream: ::micro_runtime::codegen::Receiver<#input>),
            Kind::BidiStream => quote! {
                stream: ::micro_runtime::codegen::Receiver<#input>,
                sender: ::micro_runtime::codegen::Sender<#output>
            },
        };
        let ok = match m.kind {
            Kind::Unary | Kind::ClientStream => quote!(#output),
            Kind::ServerStream | Kind::BidiStream => quote!(()),
        };
        quote! {
            #docs
            fn #name(&self, ctx: ::micro_runtime::codegen::Context, #args)
                -> impl ::core::future::Future<
                    Output = ::core::result::Result<#ok, ::micro_runtime::codegen::Error>,
                > + ::core::marker::Send;
        }
    });
    quote! {
        #docs
        pub trait #trait_name: ::core::marker::Send + ::core::marker::Sync + 'static {
            #(#methods)*
        }
    }
}

fn descriptor(service: &Service) -> TokenStream {
    let static_name = format_ident!("{}", service.static_name());
    let doc = format!(
        " The `{}` service's description: endpoint names, kinds and request/response types, \
         as advertised in the registry.",
        service.name
    );
    let (name, package) = (&service.name, &service.package);
    let endpoints = service.methods.iter().map(|m| {
        let endpoint = &m.endpoint;
        let kind = kind_ident(m.kind);
        let (request, response) = (&m.request, &m.response);
        let metadata = http_metadata(m)
            .into_iter()
            .map(|(k, v)| quote! { (#k, #v) });
        quote! {
            ::micro_runtime::codegen::EndpointDescriptor {
                name: #endpoint,
                kind: ::micro_runtime::codegen::EndpointKind::#kind,
                request: #request,
                response: #response,
                metadata: &[#(#metadata),*],
            }
        }
    });
    quote! {
        #[doc = #doc]
        pub static #static_name: ::micro_runtime::codegen::ServiceDescriptor =
            ::micro_runtime::codegen::ServiceDescriptor {
                name: #name,
                package: #package,
                endpoints: &[#(#endpoints),*],
            };
    }
}

/// An rpc's HTTP routes as go-micro's API endpoint metadata (`api.Encode`: `endpoint`,
/// `handler`, then `method` and `path` comma-joined), so go-micro's classic gateway routes by them
/// as micro's does; `body` (comma-joined too) is micro's addition. The lists line up: route `i`
/// is `method[i] path[i]` with body `body[i]`.
fn http_metadata(method: &Method) -> Vec<(&'static str, String)> {
    if method.http.is_empty() {
        return Vec::new();
    }
    let join =
        |part: fn(&Binding) -> &str| method.http.iter().map(part).collect::<Vec<_>>().join(",");
    let mut metadata = vec![
        ("endpoint", method.endpoint.clone()),
        ("handler", "rpc".to_owned()),
        ("method", join(|b| &b.method)),
        ("path", join(|b| &b.path)),
    ];
    if method.http.iter().any(|b| !b.body.is_empty()) {
        metadata.push(("body", join(|b| &b.body)));
    }
    metadata
}

fn kind_ident(kind: Kind) -> Ident {
    format_ident!(
        "{}",
        match kind {
            Kind::Unary => "Unary",
            Kind::ServerStream => "ServerStream",
            Kind::ClientStream => "ClientStream",
            Kind::BidiStream => "BidiStream",
        }
    )
}

fn server(service: &Service) -> TokenStream {
    let trait_name = format_ident!("{}Handler", service.rust_name);
    let server = format_ident!("{}Server", service.rust_name);
    let static_name = format_ident!("{}", service.static_name());
    let doc = format!(
        " Serves a [`{trait_name}`]: `server.handle({server}::new(handler))` registers every \
         endpoint of `{}`.",
        service.name
    );
    let count = service.methods.len();
    let registrations = service.methods.iter().enumerate().map(|(i, m)| {
        let name = &m.rust_name;
        let (input, output) = (&m.input, &m.output);
        let (register, params, args) = match m.kind {
            Kind::Unary => (quote!(unary), quote!(req: #input), quote!(req)),
            Kind::ServerStream => (
                quote!(server_stream),
                quote!(req: #input, stream: ::micro_runtime::codegen::Sender<#output>),
                quote!(req, stream),
            ),
            Kind::ClientStream => (
                quote!(client_stream),
                quote!(stream: ::micro_runtime::codegen::Receiver<#input>),
                quote!(stream),
            ),
            Kind::BidiStream => (
                quote!(bidi_stream),
                quote! {
                    stream: ::micro_runtime::codegen::Receiver<#input>,
                    sender: ::micro_runtime::codegen::Sender<#output>
                },
                quote!(stream, sender),
            ),
        };
        // The last registration takes the Arc itself; cloning it would be redundant.
        let take =
            (i + 1 < count).then(|| quote!(let handler = ::std::sync::Arc::clone(&handler);));
        let i = Literal::usize_unsuffixed(i);
        quote! {
            {
                #take
                router.#register(
                    &#static_name.endpoints[#i],
                    move |ctx: ::micro_runtime::codegen::Context, #params| {
                        let handler = ::std::sync::Arc::clone(&handler);
                        async move { handler.#name(ctx, #args).await }
                    },
                );
            }
        }
    });
    // A service without rpcs registers nothing; keep it warning-free.
    let (router, body) = if count == 0 {
        (quote!(_router), quote!(let _ = self.handler;))
    } else {
        (
            quote!(router),
            quote! {
                let handler = self.handler;
                #(#registrations)*
            },
        )
    };
    quote! {
        #[doc = #doc]
        #[derive(::core::fmt::Debug)]
        #[allow(dead_code)] // a binary may only call this service, never serve it
        pub struct #server<H> {
            handler: ::std::sync::Arc<H>,
        }

        #[allow(dead_code)]
        impl<H: #trait_name> #server<H> {
            /// Wraps a handler.
            pub fn new(handler: H) -> Self {
                Self::from_arc(::std::sync::Arc::new(handler))
            }

            /// Wraps a handler that is already shared.
            pub fn from_arc(handler: ::std::sync::Arc<H>) -> Self {
                Self { handler }
            }
        }

        impl<H: #trait_name> ::micro_runtime::codegen::Handler for #server<H> {
            fn descriptor(&self) -> &'static ::micro_runtime::codegen::ServiceDescriptor {
                &#static_name
            }

            fn register(self, #router: &mut ::micro_runtime::codegen::Router) {
                #body
            }
        }
    }
}
