//! Streaming endpoints, any kind, three ways:
//! - **WebSocket** (a `GET` with `Upgrade: websocket`): each text frame from the client is one
//!   JSON message to the service, each message from the service one text frame back. A query
//!   string is the first message. An empty text frame ends the client's side (go-micro's `EOS`),
//!   so a client stream then gets its reply; closing the socket hangs up. The service's end is a
//!   close with 1000; its error a close with 4000 + the error's code (4500, 4408, ...) and the
//!   detail as the reason.
//! - **Server-Sent Events** (`Accept: text/event-stream`): the query string or the body is the
//!   request; each message is an event, then an `end` event (data `{}`), or an `error` event whose data is
//!   go-micro's error JSON.
//! - **Newline-delimited JSON** otherwise (`curl -N`): the body's JSON values (or the query
//!   string) are the messages sent; each message back is a line, and an error a last line
//!   `{"error": {...}}`.
//!
//! Streams have no deadline unless the request's `Timeout` header gives one. WebSockets count
//! against their own cap (as many as connections: an upgraded connection leaves the connection
//! cap), close with 1001 when the gateway stops, and are read to the end even after the client's
//! empty frame, so a client that leaves a quiet stream still cancels it. A WebSocket client
//! that stops reading is disconnected after [`crate::GatewayOptions::stream_send_timeout`], so nothing
//! is buffered for it without bound; SSE and NDJSON replies are written as the client reads.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::FromRequestParts;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use micro_runtime::client::BidiStream;
use micro_runtime::codec::{ContentType, JsonValue};
use micro_runtime::registry::Endpoint;
use micro_runtime::{CallOptions, Error};
use serde_json::{Map, Value};

use crate::Shared;
use crate::errors::ApiError;
use crate::request;
use crate::websocket::Bridge;

/// A stream to a service, JSON both ways.
pub(crate) type Stream = BidiStream<JsonValue, JsonValue>;

/// Serves a request for a streaming endpoint in the way it asks for.
///
/// `first` holds the fields the URL gives (its query string, a route's path variables): the first
/// message, or what is set over the body's first message.
pub(crate) async fn serve(
    shared: &Shared,
    service: &str,
    endpoint: &Endpoint,
    mut parts: Parts,
    body: Body,
    first: Map<String, Value>,
) -> Result<Response, ApiError> {
    let options =
        request::stream_options(&parts.headers, &shared.options)?.content_type(ContentType::JSON);
    let target = (service, endpoint.name.as_str());
    let first = (!first.is_empty()).then_some(first);
    if is_upgrade(&parts) {
        let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &())
            .await
            .map_err(|rejection| ApiError::new(400, rejection.body_text()))?;
        // An upgraded connection leaves the connection cap, so WebSockets have their own.
        let place = Arc::clone(&shared.streams)
            .try_acquire_owned()
            .map_err(|_| ApiError::new(503, "too many WebSockets are open; try again later"))?;
        let stream = open(shared, target, &options).await?;
        let bridge = Bridge::new(
            shared.options.stream_send_timeout,
            shared.closing.subscribe(),
            place,
        );
        let upgrade = upgrade
            .max_message_size(shared.options.max_body)
            .max_frame_size(shared.options.max_body);
        return Ok(upgrade.on_upgrade(move |socket| bridge.run(socket, stream, first)));
    }
    let bytes = request::read_body(body, &shared.options).await?;
    let mut messages = request::json_objects(&bytes)?;
    match (messages.first_mut(), first) {
        (Some(message), Some(first)) => request::merge(message, first),
        (None, first) => messages.push(first.unwrap_or_default()),
        (Some(_), None) => {}
    }
    let stream = open(shared, target, &options).await?;
    let (sender, receiver) = stream.split();
    // The messages go out while replies come back, as the service reads and answers.
    tokio::spawn(async move {
        for message in messages {
            if sender
                .send(JsonValue(Value::Object(message)))
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = sender.close().await;
    });
    if accepts_events(&parts) {
        Ok(events(receiver))
    } else {
        Ok(lines(receiver))
    }
}

async fn open(
    shared: &Shared,
    (service, endpoint): (&str, &str),
    options: &CallOptions,
) -> Result<Stream, ApiError> {
    shared
        .client
        .open_stream(service, endpoint, options)
        .await
        .map_err(|err| ApiError::from_call(err, service, endpoint))
}

fn is_upgrade(parts: &Parts) -> bool {
    parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn accepts_events(parts: &Parts) -> bool {
    parts
        .headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"))
}

/// Each message as an SSE event, then `end` or `error`.
fn events(receiver: micro_runtime::stream::Receiver<JsonValue>) -> Response {
    let events = futures_util::stream::unfold(Some(receiver), |receiver| async move {
        let mut receiver = receiver?;
        let event = match receiver.recv().await {
            Ok(Some(JsonValue(message))) => {
                return Some((
                    Ok(Event::default().data(message.to_string())),
                    Some(receiver),
                ));
            }
            // With data: EventSource drops an event that has none.
            Ok(None) => Event::default().event("end").data("{}"),
            Err(err) => Event::default().event("error").data(err.to_json()),
        };
        Some((Ok::<_, Infallible>(event), None))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Each message as a line of JSON, then `{"error": ...}` if the stream failed.
fn lines(receiver: micro_runtime::stream::Receiver<JsonValue>) -> Response {
    let lines = futures_util::stream::unfold(Some(receiver), |receiver| async move {
        let mut receiver = receiver?;
        let (line, next) = match receiver.recv().await {
            Ok(Some(JsonValue(message))) => (message.to_string(), Some(receiver)),
            Ok(None) => return None,
            Err(err) => (error_line(&err), None),
        };
        Some((Ok::<_, Infallible>(Bytes::from(line + "\n")), next))
    });
    let mut response = Response::new(Body::from_stream(lines));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    response
}

fn error_line(err: &Error) -> String {
    let error = serde_json::to_value(err).unwrap_or(Value::Null);
    serde_json::json!({ "error": error }).to_string()
}
