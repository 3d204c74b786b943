//! `GET /openapi.json`: an OpenAPI 3.1 document of everything the gateway serves, made from the
//! registry on each request: every endpoint at its `/{service}/{Type.Method}` path, every route
//! a service declares, `/rpc` and `/health`. Schemas come from the registry's value trees (go-
//! micro's `Value`), inline, as the registry names types by short name only (two packages'
//! `Item`s would collide as components).
//!
//! Requests are described with proto field names, which the proto3 JSON mapping accepts and the
//! gateway's path and query typing uses; replies with the lowerCamelCase JSON names services
//! write. 64-bit integers are strings or numbers, as proto3 JSON allows both.

use micro_runtime::registry::{Endpoint, Value as Shape, json_name};
use serde_json::{Map, Value, json};

use crate::routes::Declared;

/// The document for `services` (name and endpoints, sorted) and the declared `routes`, with
/// paths as seen under `namespace`.
pub(crate) fn document(
    services: &[(String, Vec<Endpoint>)],
    routes: &[std::sync::Arc<Declared>],
    namespace: Option<&str>,
) -> Value {
    let mut paths = Map::new();
    let mut ids = std::collections::HashSet::new();
    // operationIds must be unique: an endpoint reached two ways gets a suffix the second time.
    let mut unique = |mut operation: Value| {
        let id = operation["operationId"].as_str().unwrap_or("").to_string();
        let mut candidate = id.clone();
        let mut n = 2;
        while !ids.insert(candidate.clone()) {
            candidate = format!("{id}_{n}");
            n += 1;
        }
        operation["operationId"] = json!(candidate);
        operation
    };
    for (service, endpoints) in services {
        let Some(prefix) = path_prefix(service, namespace) else {
            continue;
        };
        for endpoint in endpoints {
            let path = format!("/{prefix}/{}", endpoint.name);
            let operation = unique(operation(service, endpoint, "*", &[], "post"));
            paths.insert(path, json!({ "post": operation }));
        }
    }
    for route in routes {
        let (path, variables) = openapi_path(&route.path);
        let method = route.method.to_ascii_lowercase();
        if !matches!(
            method.as_str(),
            "get" | "put" | "post" | "delete" | "patch" | "head" | "options" | "trace"
        ) {
            continue;
        }
        let operation = unique(operation(
            &route.service,
            &route.endpoint,
            &route.body,
            &variables,
            &method,
        ));
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[method.as_str()] = operation;
    }
    paths.insert("/rpc".into(), rpc());
    paths.insert("/health".into(), health());
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "micro API gateway",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The services of a micro (or go-micro) registry, called through micro's \
                gateway. A failed call answers with the go-micro error's code as the HTTP status."
        },
        "paths": paths,
        "components": { "schemas": { "Error": error_schema() } }
    })
}

/// The path segment a service is reached at under `namespace`, if it is reachable.
fn path_prefix(service: &str, namespace: Option<&str>) -> Option<String> {
    match namespace.filter(|ns| !ns.is_empty()) {
        None => Some(service.to_string()),
        Some(ns) => service
            .strip_prefix(ns)
            .and_then(|rest| rest.strip_prefix('.'))
            .map(str::to_string),
    }
}

/// `/v1/{name=shelves/*}/x:verb` → `/v1/{name}/x:verb`, and the variables' fields.
fn openapi_path(template: &str) -> (String, Vec<String>) {
    let mut path = String::new();
    let mut variables = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
        let field = rest[open + 1..close].split('=').next().unwrap_or("").trim();
        path.push_str(&rest[..open]);
        path.push('{');
        path.push_str(field);
        path.push('}');
        variables.push(field.to_string());
        rest = rest.get(close + 1..).unwrap_or("");
    }
    path.push_str(rest);
    (path, variables)
}

fn operation(
    service: &str,
    endpoint: &Endpoint,
    body: &str,
    variables: &[String],
    method: &str,
) -> Value {
    let stream = endpoint.metadata.get("stream").is_some_and(|v| v == "true");
    let request = endpoint.request.as_ref();
    let mut parameters: Vec<Value> = variables
        .iter()
        .map(|field| {
            json!({
                "name": field,
                "in": "path",
                "required": true,
                "schema": request.and_then(|r| r.find(field)).map_or(json!({"type": "string"}), scalar_or_any),
            })
        })
        .collect();
    // Fields that neither the path nor the body carries may come in the query string.
    if body.is_empty() {
        for field in request.map(|r| r.values.as_slice()).unwrap_or_default() {
            if variables
                .iter()
                .any(|v| v.split('.').next() == Some(&field.name))
            {
                continue;
            }
            if let Some(schema) = query_schema(field) {
                parameters.push(json!({ "name": field.name, "in": "query", "schema": schema }));
            }
        }
    }
    let reply = endpoint
        .response
        .as_ref()
        .map_or(json!({}), |r| schema(r, true));
    let mut success = Map::new();
    if stream {
        success.insert("description".into(), json!("A stream: one JSON message per line (or per Server-Sent Event with Accept: text/event-stream, or per WebSocket frame); an error is a last line {\"error\": {...}}."));
        success.insert(
            "content".into(),
            json!({
                "application/x-ndjson": { "schema": reply },
                "text/event-stream": { "schema": { "type": "string" } }
            }),
        );
    } else {
        success.insert("description".into(), json!("The reply."));
        success.insert(
            "content".into(),
            json!({ "application/json": { "schema": reply } }),
        );
    }
    let mut operation = json!({
        "operationId": format!("{service}.{}.{method}", endpoint.name),
        "summary": format!("{} on {service}", endpoint.name),
        "tags": [service],
        "responses": {
            "200": Value::Object(success),
            "default": {
                "description": "A go-micro error; the HTTP status is its code.",
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
            }
        }
    });
    if !parameters.is_empty() {
        operation["parameters"] = Value::Array(parameters);
    }
    if !body.is_empty() {
        let body_schema = match (body, request) {
            ("*", Some(request)) => schema(request, false),
            (field, Some(request)) => request.find(field).map_or(json!({}), |f| schema(f, false)),
            _ => json!({ "type": "object" }),
        };
        // A stream's body may hold several messages in a row (NDJSON); one is JSON.
        let mut request_body =
            json!({ "content": { "application/json": { "schema": body_schema } } });
        if stream {
            request_body["description"] =
                json!("The first message; more may follow it, one JSON object per line.");
        }
        operation["requestBody"] = request_body;
    }
    if stream {
        operation["x-micro-stream"] = json!(true);
    }
    operation
}

/// A query parameter's schema: scalars and repeated scalars only.
fn query_schema(field: &Shape) -> Option<Value> {
    let element = field
        .type_name
        .strip_prefix("[]")
        .unwrap_or(&field.type_name);
    let scalar = scalar(element)?;
    Some(if field.type_name.starts_with("[]") {
        json!({ "type": "array", "items": scalar })
    } else {
        scalar
    })
}

fn scalar_or_any(field: &Shape) -> Value {
    scalar(&field.type_name).unwrap_or_else(|| json!({}))
}

/// The JSON schema of a proto scalar, as the proto3 JSON mapping writes and reads it.
fn scalar(type_name: &str) -> Option<Value> {
    Some(match type_name {
        "string" => json!({ "type": "string" }),
        "bool" => json!({ "type": "boolean" }),
        "int32" | "sint32" | "sfixed32" => json!({ "type": "integer", "format": "int32" }),
        "uint32" | "fixed32" => json!({ "type": "integer", "format": "int32", "minimum": 0 }),
        "int64" | "sint64" | "sfixed64" | "uint64" | "fixed64" => {
            json!({ "type": ["string", "integer"], "format": "int64" })
        }
        "float" | "double" => json!({ "type": ["number", "string"] }),
        "bytes" => json!({ "type": "string", "contentEncoding": "base64" }),
        _ => return None,
    })
}

/// The JSON schema of a message or field; `json_names` writes lowerCamelCase property names.
fn schema(shape: &Shape, json_names: bool) -> Value {
    if let Some(element) = shape.type_name.strip_prefix("[]") {
        let item = Shape {
            name: shape.name.clone(),
            type_name: element.to_string(),
            values: shape.values.clone(),
        };
        return json!({ "type": "array", "items": schema(&item, json_names) });
    }
    if let Some(scalar) = scalar(&shape.type_name) {
        return scalar;
    }
    if let Some(entry) = shape.type_name.strip_prefix("map<") {
        let value = entry.trim_end_matches('>').split(',').nth(1).unwrap_or("");
        let values = scalar(value.trim()).unwrap_or_else(|| json!({}));
        return json!({ "type": "object", "additionalProperties": values });
    }
    match shape.type_name.as_str() {
        "Timestamp" => return json!({ "type": "string", "format": "date-time" }),
        "Duration" => return json!({ "type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$" }),
        "Empty" => return json!({ "type": "object" }),
        _ => {}
    }
    if shape.values.is_empty() {
        // An enum (its name or number), a message past go-micro's depth cap, or a well-known
        // type: anything.
        return json!({});
    }
    let properties: Map<String, Value> = shape
        .values
        .iter()
        .map(|field| {
            let name = if json_names {
                json_name(&field.name)
            } else {
                field.name.clone()
            };
            (name, schema(field, json_names))
        })
        .collect();
    json!({ "type": "object", "title": shape.type_name, "properties": properties })
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "id": { "type": "string" },
            "code": { "type": "integer" },
            "detail": { "type": "string" },
            "status": { "type": "string" }
        }
    })
}

fn rpc() -> Value {
    json!({ "post": {
        "operationId": "rpc",
        "summary": "Calls any endpoint: go-micro's classic envelope.",
        "tags": ["gateway"],
        "requestBody": { "required": true, "content": { "application/json": { "schema": {
            "type": "object",
            "required": ["service", "endpoint"],
            "properties": {
                "service": { "type": "string" },
                "endpoint": { "type": "string" },
                "request": { "type": ["object", "string"] },
                "address": { "type": "string" }
            }
        } } } },
        "responses": {
            "200": { "description": "The reply.", "content": { "application/json": { "schema": {} } } },
            "default": {
                "description": "A go-micro error; the HTTP status is its code.",
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
            }
        }
    } })
}

fn health() -> Value {
    json!({ "get": {
        "operationId": "health",
        "summary": "The gateway's own health.",
        "tags": ["gateway"],
        "responses": { "200": { "description": "Up.", "content": { "application/json": { "schema": {
            "type": "object", "properties": { "status": { "type": "string" } }
        } } } } }
    } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_from_templates() {
        assert_eq!(
            openapi_path("/v1/items/{id}"),
            ("/v1/items/{id}".into(), vec!["id".into()])
        );
        assert_eq!(
            openapi_path("/v1/{name=shelves/*}/books:get"),
            ("/v1/{name}/books:get".into(), vec!["name".into()])
        );
    }

    #[test]
    fn namespaces_hide_other_services() {
        assert_eq!(
            path_prefix("go.micro.api.greeter", Some("go.micro.api")).as_deref(),
            Some("greeter")
        );
        assert_eq!(path_prefix("greeter", Some("go.micro.api")), None);
        assert_eq!(path_prefix("greeter", None).as_deref(), Some("greeter"));
    }
}
