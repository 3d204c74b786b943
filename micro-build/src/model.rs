//! The neutral description of a service that the code templates work from.
//!
//! prost-build hands services over as `prost_build::Service`; this turns them into what the
//! templates need (endpoint names, kinds, parsed Rust types, value trees) and rejects
//! services micro cannot serve unambiguously.

use std::collections::HashMap;

use proc_macro2::Ident;
use prost_types::FileDescriptorSet;

use crate::descriptor::{TypeIndex, Value};
use crate::error::Error;
use crate::http_rules::{Binding, HttpRules, path_variables};
use crate::naming::{go_camel_case, screaming_snake_case};

/// The four shapes of an rpc, named as the runtime's `EndpointKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One request, one response.
    Unary,
    /// One request, a stream of responses.
    ServerStream,
    /// A stream of requests, one response.
    ClientStream,
    /// Streams both ways.
    BidiStream,
}

/// One rpc, ready for the templates.
#[derive(Clone)]
pub struct Method {
    /// prost's snake_case method name (`get_item`).
    pub rust_name: Ident,
    /// The call-options variant of the client method (`get_item_with`).
    pub with_name: Ident,
    /// `GoCamelCase(service) + "." + GoCamelCase(rpc)`: one string for client and server.
    pub endpoint: String,
    /// Streaming shape.
    pub kind: Kind,
    /// Request type, relative to the package module.
    pub input: syn::Type,
    /// Response type, relative to the package module.
    pub output: syn::Type,
    /// Doc lines from the proto comment.
    pub docs: Vec<String>,
    /// Request value tree.
    pub request: Value,
    /// Response value tree.
    pub response: Value,
    /// The HTTP routes its `google.api.http` option declares.
    pub http: Vec<Binding>,
}

/// One service, ready for the templates.
#[derive(Clone)]
pub struct Service {
    /// prost's UpperCamelCase name, the stem of the generated Rust items.
    pub rust_name: String,
    /// The name advertised in the descriptor (GoCamelCase of the proto name).
    pub name: String,
    /// The proto package.
    pub package: String,
    /// Doc lines from the proto comment.
    pub docs: Vec<String>,
    /// The rpcs, in proto order (the descriptor's endpoint indexes follow it).
    pub methods: Vec<Method>,
}

/// Where a service was declared: its file and the line:column of each rpc.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The file name as protoc knows it (relative to its include path).
    pub file: String,
    /// 1-based line:column of each rpc, when protoc kept source info.
    pub methods: Vec<Option<(i32, i32)>>,
}

impl Origin {
    /// Finds the file declaring `package.service`, for error messages.
    pub fn find(fds: &FileDescriptorSet, package: &str, service: &str) -> Self {
        for file in fds.file.iter().filter(|f| f.package() == package) {
            let Some(index) = file.service.iter().position(|s| s.name() == service) else {
                continue;
            };
            let locations = file.source_code_info.as_ref().map(|i| &i.location);
            let methods = (0..file.service[index].method.len())
                .map(|m| {
                    let path = [6, index as i32, 2, m as i32];
                    let location = locations?.iter().find(|l| l.path == path)?;
                    Some((*location.span.first()? + 1, *location.span.get(1)? + 1))
                })
                .collect();
            return Self {
                file: file.name().to_owned(),
                methods,
            };
        }
        Self::default()
    }

    /// `file:line:column` of rpc `index`, or just the file.
    fn at(&self, index: usize) -> String {
        match self.methods.get(index).copied().flatten() {
            Some((line, column)) => format!("{}:{line}:{column}", self.file),
            None => self.file.clone(),
        }
    }
}

impl Service {
    /// Builds the model, refusing rpcs that would share an endpoint or a Rust method.
    pub fn new(
        service: prost_build::Service,
        index: &TypeIndex,
        origin: &Origin,
        http: &HttpRules,
    ) -> Result<Self, Error> {
        let name = go_camel_case(&service.proto_name);
        let mut endpoints: HashMap<String, String> = HashMap::new();
        let mut rust_names: HashMap<String, String> = HashMap::new();
        let mut methods = Vec::with_capacity(service.methods.len());
        for (i, method) in service.methods.into_iter().enumerate() {
            let endpoint = format!("{name}.{}", go_camel_case(&method.proto_name));
            if let Some(other) = endpoints.insert(endpoint.clone(), method.proto_name.clone()) {
                return Err(Error::new(format!(
                    "{}: rpcs `{other}` and `{}` of service `{}` both map to the endpoint \
                     `{endpoint}` (micro names endpoints with protoc-gen-go's CamelCase, as Go \
                     servers register them); rename one of them",
                    origin.at(i),
                    method.proto_name,
                    service.proto_name,
                )));
            }
            // `r#type` must become `type_with`, not `r#type_with`.
            let stem = method.name.trim_start_matches("r#");
            for rust_name in [method.name.clone(), format!("{stem}_with")] {
                if let Some(other) = rust_names.insert(rust_name.clone(), method.proto_name.clone())
                {
                    return Err(Error::new(format!(
                        "{}: rpcs `{other}` and `{}` of service `{}` both generate the Rust \
                         method `{rust_name}`; rename one of them",
                        origin.at(i),
                        method.proto_name,
                        service.proto_name,
                    )));
                }
            }
            let kind = match (method.client_streaming, method.server_streaming) {
                (false, false) => Kind::Unary,
                (false, true) => Kind::ServerStream,
                (true, false) => Kind::ClientStream,
                (true, true) => Kind::BidiStream,
            };
            let request = index.message_value(&method.input_proto_type);
            let bindings = http
                .get(&service.package, &service.proto_name, &method.proto_name)
                .to_vec();
            check_bindings(&bindings, &request).map_err(|why| {
                Error::new(format!(
                    "{}: the google.api.http option of rpc `{}`: {why}",
                    origin.at(i),
                    method.proto_name
                ))
            })?;
            methods.push(Method {
                rust_name: parse(&method.name)?,
                with_name: parse(&format!("{stem}_with"))?,
                endpoint,
                kind,
                input: parse(&method.input_type)?,
                output: parse(&method.output_type)?,
                docs: docs(&method.comments),
                request,
                response: index.message_value(&method.output_proto_type),
                http: bindings,
            });
        }
        Ok(Self {
            rust_name: service.name,
            name,
            package: service.package,
            docs: docs(&service.comments),
            methods,
        })
    }

    /// The Rust items generated for this service, to check against other names.
    pub fn item_names(&self) -> [String; 4] {
        let stem = &self.rust_name;
        [
            format!("{stem}Handler"),
            format!("{stem}Client"),
            format!("{stem}Server"),
            self.static_name(),
        ]
    }

    /// The descriptor static: `GREETER_SERVICE`.
    pub fn static_name(&self) -> String {
        format!("{}_SERVICE", screaming_snake_case(&self.rust_name))
    }
}

/// Refuses routes whose variables or body name a field the request lacks, as grpc-gateway does.
fn check_bindings(bindings: &[Binding], request: &Value) -> Result<(), String> {
    let has = |path: &str| {
        let first = path.split('.').next().unwrap_or(path);
        request.values.iter().any(|f| f.name == first)
    };
    for binding in bindings {
        for variable in path_variables(&binding.path)? {
            if !has(&variable) {
                return Err(format!(
                    "{} has the variable {{{variable}}}, but {} has no field {variable:?}",
                    binding.path, request.type_name
                ));
            }
        }
        if !matches!(binding.body.as_str(), "" | "*") && !has(&binding.body) {
            return Err(format!(
                "body: {:?} is not a field of {}",
                binding.body, request.type_name
            ));
        }
    }
    Ok(())
}

/// Leading and trailing proto comments, one doc line each (detached comments are not docs).
fn docs(comments: &prost_build::Comments) -> Vec<String> {
    comments
        .leading
        .iter()
        .chain(&comments.trailing)
        .flat_map(|block| block.lines())
        .map(|line| line.trim_end().to_owned())
        .collect()
}

fn parse<T: syn::parse::Parse>(text: &str) -> Result<T, Error> {
    syn::parse_str(text)
        .map_err(|e| Error::new(format!("micro-build: cannot parse `{text}` as Rust: {e}")))
}
