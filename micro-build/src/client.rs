//! The client template: a typed `XClient`, which also stands in for a handler.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use crate::model::{Kind, Service};
use crate::service::method_doc;

/// `XClient`, its methods (plain and `_with` call options) and its `XHandler` impl.
pub fn client(service: &Service) -> TokenStream {
    let client = format_ident!("{}Client", service.rust_name);
    let trait_name = format_ident!("{}Handler", service.rust_name);
    let static_name = format_ident!("{}", service.static_name());
    let doc = format!(
        " Client for the `{}` service: cheap to clone; calls go through the given client's \
         selector, pool and retries.",
        service.name
    );
    let new_doc = format!(
        " Creates a client calling the service registered as `service` (e.g. \"{}\") \
         through `client`.",
        service.package
    );
    let error = quote!(::micro_runtime::codegen::Error);
    let options_ty = quote!(::micro_runtime::codegen::CallOptions);

    let methods = service.methods.iter().enumerate().map(|(i, m)| {
        let docs = method_doc(m);
        let with_doc = format!(
            " With call options (timeout, address, metadata, retries, selector filters), or a \
             `Context` to carry onward: see [`{client}::{}`].",
            m.rust_name
        );
        let (name, with) = (&m.rust_name, &m.with_name);
        let (input, output) = (&m.input, &m.output);
        let i = Literal::usize_unsuffixed(i);
        let endpoint = quote!(&#static_name.endpoints[#i]);
        let (params, args, ok, call) = match m.kind {
            Kind::Unary => (
                quote!(req: #input,),
                quote!(req,),
                quote!(#output),
                quote!(unary(#endpoint, req, options.into())),
            ),
            Kind::ServerStream => (
                quote!(req: #input,),
                quote!(req,),
                quote!(::micro_runtime::codegen::Receiver<#output>),
                quote!(server_stream(#endpoint, req, options.into())),
            ),
            Kind::ClientStream => (
                quote!(),
                quote!(),
                quote!(::micro_runtime::codegen::ClientStreaming<#input, #output>),
                quote!(client_stream(#endpoint, options.into())),
            ),
            Kind::BidiStream => (
                quote!(),
                quote!(),
                quote!(::micro_runtime::codegen::BidiStream<#input, #output>),
                quote!(bidi_stream(#endpoint, options.into())),
            ),
        };
        quote! {
            #docs
            pub async fn #name(&self, #params) -> ::core::result::Result<#ok, #error> {
                self.#with(#args #options_ty::default()).await
            }

            #docs
            #[doc = ""]
            #[doc = #with_doc]
            pub async fn #with(&self, #params options: impl ::core::convert::Into<#options_ty>)
                -> ::core::result::Result<#ok, #error>
            {
                self.inner.#call.await
            }
        }
    });

    let impls = service.methods.iter().map(|m| {
        let (name, with) = (&m.rust_name, &m.with_name);
        let (input, output) = (&m.input, &m.output);
        let options = quote!(#options_ty::from_context(&ctx));
        let ctx = quote!(ctx: ::micro_runtime::codegen::Context);
        match m.kind {
            Kind::Unary => quote! {
                async fn #name(&self, #ctx, req: #input) -> ::core::result::Result<#output, #error> {
                    self.#with(req, #options).await
                }
            },
            Kind::ServerStream => quote! {
                async fn #name(
                    &self,
                    #ctx,
                    req: #input,
                    stream: ::micro_runtime::codegen::Sender<#output>,
                ) -> ::core::result::Result<(), #error> {
                    ::micro_runtime::codegen::forward_server_stream(
                        self.#with(req, #options).await?,
                        stream,
                    )
                    .await
                }
            },
            Kind::ClientStream => quote! {
                async fn #name(
                    &self,
                    #ctx,
                    stream: ::micro_runtime::codegen::Receiver<#input>,
                ) -> ::core::result::Result<#output, #error> {
                    ::micro_runtime::codegen::forward_client_stream(
                        stream,
                        self.#with(#options).await?,
                    )
                    .await
                }
            },
            Kind::BidiStream => quote! {
                async fn #name(
                    &self,
                    #ctx,
                    stream: ::micro_runtime::codegen::Receiver<#input>,
                    sender: ::micro_runtime::codegen::Sender<#output>,
                ) -> ::core::result::Result<(), #error> {
                    ::micro_runtime::codegen::forward_bidi_stream(
                        stream,
                        sender,
                        self.#with(#options).await?,
                    )
                    .await
                }
            },
        }
    });

    quote! {
        #[doc = #doc]
        #[derive(::core::clone::Clone, ::core::fmt::Debug)]
        #[allow(dead_code)] // a binary may only serve this service, never call it
        pub struct #client {
            inner: ::micro_runtime::codegen::ServiceClient,
        }

        #[allow(dead_code)]
        impl #client {
            #[doc = #new_doc]
            pub fn new(
                service: impl ::core::convert::Into<::std::string::String>,
                client: ::micro_runtime::codegen::Client,
            ) -> Self {
                Self {
                    inner: ::micro_runtime::codegen::ServiceClient::new(service, client),
                }
            }

            #(#methods)*
        }

        /// A client stands in for a handler (tests, proxies): each call goes to the remote
        /// service, with the context's metadata and deadline.
        impl #trait_name for #client {
            #(#impls)*
        }
    }
}
