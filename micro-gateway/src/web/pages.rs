//! The dashboard's pages, rendered from the registry with every string escaped. `app.js` makes
//! them live: it updates the services list, sends the call and stream forms and shows replies.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use micro_runtime::registry::ServiceRecord;

use super::Web;
use super::form;
use super::live::{Listed, list};
use crate::docs::escape;

/// A page: the shared head and navigation around `body`.
fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · micro</title><link rel=\"stylesheet\" href=\"/assets/style.css\">\
         <script src=\"/assets/app.js\" defer></script></head><body>\
         <header><nav aria-label=\"Main\"><a href=\"/\" class=\"brand\">micro</a>\
         <a href=\"/\">Services</a><a href=\"/topics\">Topics</a>\
         <a href=\"/api/docs\">API</a></nav></header><main>{body}</main></body></html>",
        title = escape(title)
    ))
}

/// `/`: every service, kept current by `app.js` from `/web/events`.
pub(crate) async fn services(State(web): State<Arc<Web>>) -> Response {
    let listed = list(&web).await;
    let mut rows = String::new();
    for service in &listed {
        write_row(&mut rows, service);
    }
    let empty = if listed.is_empty() { "" } else { " hidden" };
    let body = format!(
        "<h1>Services</h1>\
         <p id=\"live\" role=\"status\" aria-live=\"polite\">Live from the registry.</p>\
         <table id=\"services\"><caption class=\"visually-hidden\">Services</caption><thead><tr>\
         <th scope=\"col\">Name</th><th scope=\"col\">Versions</th><th scope=\"col\">Nodes</th>\
         </tr></thead><tbody>{rows}</tbody></table>\
         <p id=\"no-services\"{empty}>No service is registered.</p>"
    );
    page("Services", &body).into_response()
}

fn write_row(out: &mut String, service: &Listed) {
    let _ = write!(
        out,
        "<tr data-service=\"{name}\"><td><a href=\"/service/{link}\">{name}</a></td>\
         <td>{versions}</td><td>{nodes}</td></tr>",
        name = escape(&service.name),
        link = escape(&percent_encode(&service.name)),
        versions = escape(&service.versions.join(", ")),
        nodes = service.nodes,
    );
}

/// `/service/{name}`: nodes, health, and every endpoint with its schemas and a form.
pub(crate) async fn service(State(web): State<Arc<Web>>, Path(name): Path<String>) -> Response {
    let records = web.records(&name).await;
    if records.is_empty() {
        let body = format!(
            "<h1>Not found</h1><p>No service <code>{}</code> is registered. \
             <a href=\"/\">All services</a></p>",
            escape(&name)
        );
        return (StatusCode::NOT_FOUND, page("Not found", &body)).into_response();
    }
    let mut body = format!(
        "<h1>Service <code>{}</code></h1>{}",
        escape(&name),
        nodes(&records)
    );
    let _ = write!(
        body,
        "<p><button type=\"button\" id=\"health\" data-service=\"{}\">Check health</button></p>\
         <table id=\"health-table\" hidden><caption>Health</caption><thead><tr>\
         <th scope=\"col\">Node</th><th scope=\"col\">Address</th><th scope=\"col\">Status</th>\
         <th scope=\"col\">Latency</th></tr></thead><tbody></tbody></table>\
         <h2>Endpoints</h2>",
        escape(&name)
    );
    let mut seen = Vec::new();
    for endpoint in records.iter().flat_map(|r| r.endpoints.iter()) {
        if seen.contains(&endpoint.name) {
            continue;
        }
        seen.push(endpoint.name.clone());
        let id = format!("e{}", seen.len());
        let stream = endpoint.metadata.get("stream").is_some_and(|v| v == "true");
        let request = endpoint.request.clone().unwrap_or_default();
        let response = endpoint.response.clone().unwrap_or_default();
        let _ = write!(
            body,
            "<article class=\"endpoint\" aria-labelledby=\"{id}-title\" data-service=\"{service}\" \
             data-endpoint=\"{endpoint}\"><h3 id=\"{id}-title\">{endpoint}{kind}</h3>\
             <div class=\"schemas\"><div><h4>Request</h4><pre>{request}</pre></div>\
             <div><h4>Response</h4><pre>{response}</pre></div></div>",
            service = escape(&name),
            endpoint = escape(&endpoint.name),
            kind = if stream {
                " <small>(stream)</small>"
            } else {
                ""
            },
            request = escape(&request.tree()),
            response = escape(&response.tree()),
        );
        if stream {
            let _ = write!(
                body,
                "<form class=\"stream\"><label for=\"{id}-messages\">Messages to send, one JSON \
                 object per line</label><textarea id=\"{id}-messages\" name=\"messages\" rows=\"3\">\
                 </textarea><button type=\"submit\">Open stream</button>\
                 <button type=\"button\" class=\"close\" disabled>Close</button></form>\
                 <p class=\"stream-status\" role=\"status\" aria-live=\"polite\"></p>\
                 <ol class=\"messages\" aria-label=\"Messages received\"></ol>"
            );
        } else {
            let _ = write!(
                body,
                "<form class=\"call\">{inputs}<details><summary>Request as JSON</summary>\
                 <label for=\"{id}-json\">JSON (used instead of the fields when given)</label>\
                 <textarea id=\"{id}-json\" name=\"json\" rows=\"3\"></textarea></details>\
                 <button type=\"submit\">Call</button></form>\
                 <div class=\"result\" role=\"status\" aria-live=\"polite\">\
                 <p class=\"latency\"></p><pre class=\"reply\" hidden></pre>\
                 <dl class=\"error\" hidden><dt>id</dt><dd class=\"error-id\"></dd><dt>code</dt>\
                 <dd class=\"error-code\"></dd><dt>detail</dt><dd class=\"error-detail\"></dd></dl></div>",
                inputs = form::inputs(&request, &id),
            );
        }
        body.push_str("</article>");
    }
    page(&name, &body).into_response()
}

fn nodes(records: &[ServiceRecord]) -> String {
    let mut rows = String::new();
    for record in records {
        for node in &record.nodes {
            let mut metadata: Vec<String> = node
                .metadata
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            metadata.sort();
            let _ = write!(
                rows,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&node.id),
                escape(&node.address),
                escape(&record.version),
                escape(&metadata.join(", ")),
            );
        }
    }
    format!(
        "<h2>Nodes</h2><table><thead><tr><th scope=\"col\">ID</th><th scope=\"col\">Address</th>\
         <th scope=\"col\">Version</th><th scope=\"col\">Metadata</th></tr></thead>\
         <tbody>{rows}</tbody></table>"
    )
}

/// `/topics`: publish a JSON message, watch a topic.
pub(crate) async fn topics(State(web): State<Arc<Web>>) -> Response {
    if web.broker.is_none() {
        return page("Topics", "<h1>Topics</h1><p>No broker is configured.</p>").into_response();
    }
    let body = "<h1>Topics</h1>\
        <section aria-labelledby=\"publish-title\"><h2 id=\"publish-title\">Publish</h2>\
        <form id=\"publish\"><label for=\"publish-topic\">Topic</label>\
        <input id=\"publish-topic\" name=\"topic\" required>\
        <label for=\"publish-message\">Message (JSON)</label>\
        <textarea id=\"publish-message\" name=\"message\" rows=\"3\">{}</textarea>\
        <button type=\"submit\">Publish</button></form>\
        <p id=\"published\" role=\"status\" aria-live=\"polite\"></p></section>\
        <section aria-labelledby=\"watch-title\"><h2 id=\"watch-title\">Watch</h2>\
        <form id=\"watch\"><label for=\"watch-topic\">Topic</label>\
        <input id=\"watch-topic\" name=\"topic\" required>\
        <button type=\"submit\">Watch</button></form>\
        <p id=\"watch-status\" role=\"status\" aria-live=\"polite\"></p>\
        <ol id=\"watched\" aria-label=\"Messages received\"></ol></section>";
    page("Topics", body).into_response()
}

/// A path segment: everything but unreserved characters percent-encoded.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
