//! `google.api.http` annotations: the HTTP routes an rpc declares, carried into the registry as
//! go-micro's API endpoint metadata (`handler`, `method`, `path`, plus `body`), where micro's
//! gateway (and go-micro's classic one) route by them.
//!
//! prost-types drops extensions when it decodes descriptors, so the rules are read from protoc's
//! raw bytes with the few descriptor fields they need (field numbers from descriptor.proto and
//! google/api/http.proto).

use std::collections::HashMap;

use prost::Message;

use crate::error::Error;

/// One HTTP binding of an rpc: `GET /v1/users/{id}`, and where the body goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Binding {
    /// `GET`, `POST`, `PUT`, `DELETE`, `PATCH`, or a custom method.
    pub method: String,
    /// The path template: `/v1/users/{id}`, `/v1/{name=shelves/*}`.
    pub path: String,
    /// `*` (the whole request), a request field's name, or empty (no body).
    pub body: String,
}

/// The bindings of every annotated rpc, by `package.Service.Method` (proto names).
#[derive(Clone, Debug, Default)]
pub struct HttpRules(HashMap<String, Vec<Binding>>);

impl HttpRules {
    /// From a `FileDescriptorSet` as protoc writes it.
    pub fn from_descriptor_set(raw: &[u8]) -> Result<Self, Error> {
        let set = FileSet::decode(raw).map_err(|e| {
            Error::new(format!(
                "micro-build: cannot read google.api.http rules: {e}"
            ))
        })?;
        Ok(Self::from_files(&set.file))
    }

    /// From a protoc plugin's `CodeGeneratorRequest`.
    pub fn from_plugin_request(raw: &[u8]) -> Result<Self, Error> {
        let request = PluginRequest::decode(raw).map_err(|e| {
            Error::new(format!(
                "protoc-gen-micro: cannot read google.api.http rules: {e}"
            ))
        })?;
        Ok(Self::from_files(&request.proto_file))
    }

    fn from_files(files: &[File]) -> Self {
        let mut rules = HashMap::new();
        for file in files {
            for service in &file.service {
                for method in &service.method {
                    let Some(rule) = method.options.as_ref().and_then(|o| o.http.as_ref()) else {
                        continue;
                    };
                    let mut bindings = Vec::new();
                    rule.collect(&mut bindings);
                    let key = format!("{}.{}.{}", file.package, service.name, method.name);
                    rules.insert(key, bindings);
                }
            }
        }
        Self(rules)
    }

    /// The bindings of `package.service.method`; empty when it declares none.
    pub fn get(&self, package: &str, service: &str, method: &str) -> &[Binding] {
        self.0
            .get(&format!("{package}.{service}.{method}"))
            .map_or(&[], Vec::as_slice)
    }
}

/// The field of the `{field}` variables of a path template, in order (`a.b` for `{a.b=*}`).
pub fn path_variables(path: &str) -> Result<Vec<String>, String> {
    if !path.starts_with('/') {
        return Err(format!("the path {path:?} must start with /"));
    }
    let mut variables = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("the path {path:?} has a {{ without its }}"))?;
        let inside = &rest[open + 1..open + close];
        let field = inside.split('=').next().unwrap_or("").trim();
        if field.is_empty() || inside.contains('{') {
            return Err(format!(
                "the path {path:?} has a malformed variable {{{inside}}}"
            ));
        }
        variables.push(field.to_string());
        rest = &rest[open + close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("the path {path:?} has a }} without its {{"));
    }
    Ok(variables)
}

impl HttpRuleProto {
    fn collect(&self, into: &mut Vec<Binding>) {
        let pattern = [
            ("GET", &self.get),
            ("PUT", &self.put),
            ("POST", &self.post),
            ("DELETE", &self.delete),
            ("PATCH", &self.patch),
        ]
        .into_iter()
        .find_map(|(method, path)| path.as_ref().map(|p| (method.to_string(), p.clone())))
        .or_else(|| {
            self.custom
                .as_ref()
                .map(|c| (c.kind.to_ascii_uppercase(), c.path.clone()))
        });
        if let Some((method, path)) = pattern {
            into.push(Binding {
                method,
                path,
                body: self.body.clone(),
            });
        }
        for more in &self.additional_bindings {
            more.collect(into);
        }
    }
}

// The descriptor fields the rules live in; everything else is skipped as unknown.

#[derive(Clone, PartialEq, Message)]
struct FileSet {
    #[prost(message, repeated, tag = "1")]
    file: Vec<File>,
}

#[derive(Clone, PartialEq, Message)]
struct PluginRequest {
    #[prost(message, repeated, tag = "15")]
    proto_file: Vec<File>,
}

#[derive(Clone, PartialEq, Message)]
struct File {
    #[prost(string, tag = "2")]
    package: String,
    #[prost(message, repeated, tag = "6")]
    service: Vec<ServiceProto>,
}

#[derive(Clone, PartialEq, Message)]
struct ServiceProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, repeated, tag = "2")]
    method: Vec<MethodProto>,
}

#[derive(Clone, PartialEq, Message)]
struct MethodProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "4")]
    options: Option<MethodOptions>,
}

#[derive(Clone, PartialEq, Message)]
struct MethodOptions {
    /// `google.api.http`, extension 72295728 of `google.protobuf.MethodOptions`.
    #[prost(message, optional, tag = "72295728")]
    http: Option<HttpRuleProto>,
}

#[derive(Clone, PartialEq, Message)]
struct HttpRuleProto {
    #[prost(string, optional, tag = "2")]
    get: Option<String>,
    #[prost(string, optional, tag = "3")]
    put: Option<String>,
    #[prost(string, optional, tag = "4")]
    post: Option<String>,
    #[prost(string, optional, tag = "5")]
    delete: Option<String>,
    #[prost(string, optional, tag = "6")]
    patch: Option<String>,
    #[prost(string, tag = "7")]
    body: String,
    #[prost(message, optional, tag = "8")]
    custom: Option<CustomPattern>,
    #[prost(message, repeated, tag = "11")]
    additional_bindings: Vec<HttpRuleProto>,
}

#[derive(Clone, PartialEq, Message)]
struct CustomPattern {
    #[prost(string, tag = "1")]
    kind: String,
    #[prost(string, tag = "2")]
    path: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_of_path_templates() {
        assert_eq!(path_variables("/v1/users/{id}").unwrap(), ["id"]);
        assert_eq!(
            path_variables("/v1/{name=shelves/*}/books/{book.id}").unwrap(),
            ["name", "book.id"]
        );
        assert!(path_variables("v1/users").is_err());
        assert!(path_variables("/v1/{id").is_err());
        assert!(path_variables("/v1/id}").is_err());
        assert!(path_variables("/v1/{}").is_err());
    }

    #[test]
    fn bindings_with_additional_ones() {
        let rule = HttpRuleProto {
            get: Some("/v1/items/{id}".into()),
            additional_bindings: vec![HttpRuleProto {
                post: Some("/v1/items:get".into()),
                body: "*".into(),
                ..HttpRuleProto::default()
            }],
            ..HttpRuleProto::default()
        };
        let mut bindings = Vec::new();
        rule.collect(&mut bindings);
        assert_eq!(
            bindings,
            [
                Binding {
                    method: "GET".into(),
                    path: "/v1/items/{id}".into(),
                    body: String::new()
                },
                Binding {
                    method: "POST".into(),
                    path: "/v1/items:get".into(),
                    body: "*".into()
                },
            ]
        );
    }
}
