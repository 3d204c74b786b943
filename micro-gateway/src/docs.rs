//! `GET /openapi.json` and `GET /docs`: the OpenAPI document of what the gateway serves, and a
//! page that shows it, rendered here from the same document (no script, nothing fetched from
//! elsewhere), every string from the registry escaped.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use micro_runtime::registry::Endpoint;
use serde_json::Value;

use crate::Shared;
use crate::errors::ApiError;

/// The document, made from the registry now.
pub(crate) async fn document(shared: &Shared) -> Result<Value, ApiError> {
    let listed = crate::every_service(&shared.registry)
        .await
        .map_err(|err| ApiError::new(503, format!("the registry is unreachable: {err}")))?;
    let mut services = Vec::with_capacity(listed.len());
    for (name, records) in listed {
        let mut endpoints: Vec<Endpoint> = Vec::new();
        for endpoint in records.iter().flat_map(|r| r.endpoints.iter()) {
            if !endpoints.iter().any(|e| e.name == endpoint.name) {
                endpoints.push(endpoint.clone());
            }
        }
        services.push((name, endpoints));
    }
    let table = shared.routes.table(&shared.registry).await;
    Ok(crate::openapi::document(
        &services,
        table.routes(),
        shared.options.namespace.as_deref(),
    ))
}

/// `GET /openapi.json`.
pub(crate) async fn openapi_json(State(shared): State<Arc<Shared>>) -> Response {
    match document(&shared).await {
        Ok(document) => axum::Json(document).into_response(),
        Err(err) => err.into_response(),
    }
}

/// `GET /docs`: each operation with its parameters and schemas.
pub(crate) async fn page(State(shared): State<Arc<Shared>>) -> Response {
    let document = match document(&shared).await {
        Ok(document) => document,
        Err(err) => return err.into_response(),
    };
    let mut body = String::new();
    let empty = serde_json::Map::new();
    let paths = document["paths"].as_object().unwrap_or(&empty);
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().unwrap_or(&empty) {
            let _ = write!(
                body,
                "<section><h2><code>{} {}</code></h2><p>{}</p>",
                escape(&method.to_ascii_uppercase()),
                escape(path),
                escape(operation["summary"].as_str().unwrap_or("")),
            );
            if let Some(parameters) = operation.get("parameters") {
                let _ = write!(body, "<h3>Parameters</h3>{}", pre(parameters));
            }
            if let Some(request) = operation.get("requestBody") {
                let _ = write!(body, "<h3>Request</h3>{}", pre(&request["content"]));
            }
            let _ = write!(
                body,
                "<h3>Reply</h3>{}</section>",
                pre(&operation["responses"]["200"]["content"])
            );
        }
    }
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>micro API</title><style>{STYLE}</style></head><body><main>\
         <h1>micro API</h1><p>The services the gateway serves, from the registry. \
         Machine-readable: <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI 3.1).</p>\
         {body}</main></body></html>"
    ))
    .into_response()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1b1b1b}\
main{max-width:60rem;margin:auto;padding:1rem}section{border-top:1px solid #ccc;padding:.5rem 0}\
h2{font-size:1.1rem}h3{font-size:.95rem;margin-bottom:.2rem}pre{background:#f4f4f4;padding:.5rem;\
overflow:auto;font-size:.85rem}";

fn pre(value: &Value) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    format!("<pre>{}</pre>", escape(&text))
}

/// HTML-escapes `text` for element content and quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
