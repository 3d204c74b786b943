//! One client connection: read a frame, dispatch it, answer; repeat until the client leaves.
//!
//! Unary calls are served one after another on a keep-alive connection, as go-micro's clients use
//! them. A frame for a streaming endpoint turns the connection over to that stream until it ends.
//! A frame that breaks the protocol (garbage, an oversized header or body, a slow header) gets an
//! HTTP error answer and the connection is closed; nothing else on the server is affected.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use tokio::sync::watch;
use tokio::time::Instant;

use super::Phase;
use super::legacy::LegacyCodec;
use super::request::{Body, Request, Response, StreamHandle};
use super::router::{Route, Router, UnaryRoute};
use super::routing::Routing;
use super::stream::StreamIo;
use crate::codec::{Codecs, ContentType};
use crate::context::Context;
use crate::error::{Error, SERVER_ID};
use crate::metadata::{Metadata, is_reserved};
use crate::middleware::{BoxService, into_error};
use crate::transport::server_conn::{Incoming, ServerConn};
use crate::transport::{BodyBudget, FrameTemplate, Headers, Limits, STREAM_READ_BYTES};
use tower::ServiceExt;

/// What every connection of one server shares.
pub(crate) struct Shared {
    /// The service name: the id of a handler's error that has none.
    pub(crate) service: Arc<str>,
    pub(crate) router: Router,
    /// The content types the server reads.
    pub(crate) codecs: Arc<Codecs>,
    /// The handler layers around [`Dispatch`](super::dispatch::Dispatch); `None` without layers.
    pub(crate) handler: Option<BoxService<Request, Response>>,
    pub(crate) limits: Limits,
    /// The bytes all connections' incomplete bodies may hold together.
    pub(crate) budget: BodyBudget,
}

/// Serves one connection until the client closes it, breaks the protocol, or the server shuts
/// down (checked between frames, so a call in flight is finished first).
pub(crate) async fn serve(
    mut conn: ServerConn,
    shared: Arc<Shared>,
    mut server: watch::Receiver<Phase>,
) {
    let remote = conn.remote;
    loop {
        let (frame, close) = match conn.next(super::reached(&mut server, Phase::Closing)).await {
            Incoming::Request { frame, close } => (frame, close),
            Incoming::Closed => return,
            Incoming::Refused { status, why } => return refuse(conn, status, why).await,
        };
        let writer = &mut conn.writer;
        // No routing headers (or `Micro-Target`): go-micro's legacy json-rpc and proto-rpc.
        let routing = Routing::read(&frame.headers);
        if let Some(codec) = LegacyCodec::from_routing(&routing) {
            let (mut headers, body) = super::legacy::serve(&shared, codec, frame, remote).await;
            let close = close || leaving(&server, &mut headers);
            writer.queue_response(200, &headers, &body);
            if writer.flush().await.is_err() || close {
                return;
            }
            continue;
        }
        let call = match Call::read(&routing, &frame.headers, &shared, remote) {
            Ok(call) => call,
            Err((err, mut headers)) => {
                let close = close || leaving(&server, &mut headers);
                writer.queue_response(200, &error_headers(headers, &err), b"");
                if writer.flush().await.is_err() || close {
                    return;
                }
                continue;
            }
        };
        match call.route.clone() {
            Route::Unary(route) => {
                let mut headers = call.reply_headers;
                let reply =
                    serve_unary(&shared, route, call.ctx, call.content_type, frame.body).await;
                let close = close || leaving(&server, &mut headers);
                match reply {
                    Ok(body) => writer.queue_response(200, &headers, &body),
                    Err(err) => {
                        headers.remove("Content-Type");
                        writer.queue_response(200, &error_headers(headers, &err), b"");
                    }
                }
                if writer.flush().await.is_err() || close {
                    return;
                }
            }
            Route::Stream(route) => {
                // The stream holds the connection's slot until it ends.
                let (reader, writer, _slot) = conn.into_parts();
                let io = StreamIo {
                    reader: reader.with_read_size(STREAM_READ_BYTES),
                    writer,
                    content_type: call.content_type,
                    template: message_template(&call.reply_headers),
                    headers: call.reply_headers,
                    // go-micro's clients send `Micro-Stream` and an init frame whose body is only a
                    // placeholder; other callers (curl) put the first message in it.
                    initial: (!call.is_go_stream).then_some(frame.body),
                    deadline: call.ctx.deadline(),
                    idle_timeout: shared.limits.stream_idle_timeout,
                };
                serve_stream(&shared, route, call.ctx, io, &mut server).await;
                return;
            }
        }
    }
}

/// Whether the server is leaving; if so, `reply` gets `Connection: close` and the connection ends
/// after it, so that clients do not keep pooled connections to a node on its way out.
fn leaving(server: &watch::Receiver<Phase>, reply: &mut Headers) -> bool {
    let leaving = *server.borrow() != Phase::Serving;
    if leaving {
        reply.insert("Connection", "close");
    }
    leaving
}

/// A dispatched frame.
struct Call {
    route: Route,
    ctx: Context,
    content_type: ContentType,
    reply_headers: Headers,
    is_go_stream: bool,
}

impl Call {
    /// Reads the routing headers of a frame; on failure, the error and the headers to answer with.
    fn read(
        routing: &Routing<'_>,
        h: &Headers,
        shared: &Shared,
        remote: Option<SocketAddr>,
    ) -> Result<Call, (Error, Headers)> {
        let id = routing.id.get().unwrap_or("").to_string();
        let mut reply = Headers::with_capacity(4);
        if !id.is_empty() {
            reply.insert("Micro-Id", id.clone());
        }
        let stream_id = routing.stream.get();
        if let Some(stream_id) = stream_id {
            reply.insert("Micro-Stream", stream_id);
        }
        // go-micro copies Endpoint and Method into each other when one is missing.
        let Some(endpoint) = routing.endpoint.get().or_else(|| routing.method.get()) else {
            let detail = "missing Micro-Endpoint header: say which endpoint to call, e.g. -H 'Micro-Endpoint: Greeter.Hello'";
            return Err((Error::bad_request(detail).with_id(SERVER_ID), reply));
        };
        reply.insert("Micro-Endpoint", endpoint);
        let service = routing.service.get().unwrap_or("").to_string();
        if !service.is_empty() {
            reply.insert("Micro-Service", service.clone());
        }
        let Some(route) = shared.router.route(endpoint) else {
            return Err((unknown_endpoint(&shared.router, endpoint), reply));
        };
        let content_type = shared
            .codecs
            .from_header(routing.content_type)
            .map_err(|e| (e, reply.clone()))?;
        reply.insert("Content-Type", content_type.as_str());
        let deadline = routing
            .timeout
            .and_then(parse_timeout)
            .map(|timeout| Instant::now() + timeout);
        let metadata: Metadata = h.iter().filter(|(name, _)| !is_reserved(name)).collect();
        let ctx = Context::for_call(
            service,
            endpoint.to_string(),
            id,
            remote,
            metadata,
            deadline,
        );
        Ok(Call {
            route: route.clone(),
            ctx,
            content_type,
            reply_headers: reply,
            is_go_stream: stream_id.is_some(),
        })
    }
}

/// go-micro's router errors, as JSON errors with a 404 code so callers can tell them apart.
fn unknown_endpoint(router: &Router, endpoint: &str) -> Error {
    match endpoint.split_once('.') {
        Some((service, method))
            if !service.is_empty() && !method.is_empty() && !method.contains('.') =>
        {
            if router.knows_service(service) {
                Error::not_found(format!(
                    "rpc: can't find method {method} of service {service}"
                ))
                .with_id(SERVER_ID)
            } else {
                Error::not_found(format!("rpc: can't find service {service}")).with_id(SERVER_ID)
            }
        }
        _ => Error::bad_request(format!(
            "rpc: service/endpoint request ill-formed: {endpoint:?} (expected Service.Method)"
        ))
        .with_id(SERVER_ID),
    }
}

/// The `Timeout` header: a deadline in nanoseconds, as go-micro sends it. A value that is not a
/// number is ignored, as go-micro's server ignores it, rather than failing the call.
pub(super) fn parse_timeout(value: &str) -> Option<Duration> {
    match value.trim().parse::<u64>() {
        Ok(nanos) => Some(Duration::from_nanos(nanos)),
        Err(_) => {
            tracing::debug!(value, "ignoring a Timeout header that is not nanoseconds");
            None
        }
    }
}

/// The frame of each message a stream sends: `Content-Type` and `Micro-Id` only. go-micro's client
/// reads nothing else from a message frame (its `getHeaders` wants `Micro-Error`, absent on
/// messages), and every header costs the receiver a parse; the routing headers still go on the
/// stream's final frame.
fn message_template(reply_headers: &Headers) -> FrameTemplate {
    let mut headers = Headers::with_capacity(2);
    for name in ["Content-Type", "Micro-Id"] {
        if let Some(value) = reply_headers.get(name) {
            headers.insert(name, value);
        }
    }
    FrameTemplate::response(200, &headers)
}

fn error_headers(mut headers: Headers, err: &Error) -> Headers {
    headers.insert("Micro-Error", err.to_header_value());
    headers
}

/// Answers a frame that broke the protocol with an HTTP error (the go-micro error JSON in the
/// body and in `Micro-Error`), then the connection closes.
async fn refuse(conn: ServerConn, status: u16, why: String) {
    tracing::warn!(remote = ?conn.remote, status, error = %why, "closing connection after a bad frame");
    let error = Error::new(SERVER_ID, why, i32::from(status));
    let mut headers = Headers::with_capacity(3);
    headers.insert("Content-Type", "application/json");
    headers.insert("Micro-Error", error.to_header_value());
    conn.close_with(status, headers, error.to_json().as_bytes())
        .await;
}

/// Bounds a call by its deadline and turns a handler panic into a 500 error.
async fn guarded<T>(
    deadline: Option<Instant>,
    call: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let call = AssertUnwindSafe(call).catch_unwind();
    let outcome = match deadline {
        Some(deadline) => match tokio::time::timeout_at(deadline, call).await {
            Ok(outcome) => outcome,
            Err(_) => {
                return Err(
                    Error::timeout("deadline exceeded before the handler finished")
                        .with_id(SERVER_ID),
                );
            }
        },
        None => call.await,
    };
    outcome.unwrap_or_else(|_| {
        Err(Error::internal_server_error("the handler panicked").with_id(SERVER_ID))
    })
}

#[inline]
pub(super) async fn serve_unary(
    shared: &Shared,
    route: Arc<dyn UnaryRoute>,
    ctx: Context,
    content_type: ContentType,
    body: Bytes,
) -> Result<Bytes, Error> {
    let deadline = ctx.deadline();
    let reply = match &shared.handler {
        // No layers: no boxed stack on the hot path.
        None => guarded(deadline, route.call(ctx, content_type, body)).await,
        Some(service) => {
            let request = Request {
                ctx,
                content_type,
                body: Body::Message(body),
                route: Route::Unary(route),
            };
            let layered = async {
                let response = service
                    .clone()
                    .oneshot(request)
                    .await
                    .map_err(|err| into_error(err, SERVER_ID))?;
                Ok(response.body.unwrap_or_default())
            };
            guarded(deadline, layered).await
        }
    };
    reply.map_err(|err| shared.name_error(err))
}

impl Shared {
    /// A handler's error as it leaves the server: one without an id gets the service's name, so
    /// handlers need not repeat it in every error (go-micro's handlers pass it by hand).
    pub(crate) fn name_error(&self, mut err: Error) -> Error {
        if err.id.is_empty() {
            err.id = self.service.to_string();
        }
        err
    }
}

async fn serve_stream(
    shared: &Shared,
    route: Arc<dyn super::router::StreamRoute>,
    ctx: Context,
    io: StreamIo,
    server: &mut watch::Receiver<Phase>,
) {
    // The route hands the connection back when it is done, so the final frame can be written even
    // when a layer refused the call before the route ran.
    let content_type = io.content_type;
    let slot = Arc::new(Mutex::new(Some(io)));
    let result = match &shared.handler {
        // No layers: the route runs as the stack's innermost service would run it.
        None => {
            let inner = Arc::clone(&slot);
            let run = async move {
                let io = inner.lock().unwrap_or_else(|e| e.into_inner()).take();
                let Some(io) = io else {
                    return Err(Error::internal_server_error("stream handler called twice")
                        .with_id(SERVER_ID));
                };
                let (result, io) = route.call(ctx, io).await;
                *inner.lock().unwrap_or_else(|e| e.into_inner()) = Some(io);
                result
            };
            guarded(None, run).await
        }
        Some(service) => {
            let request = Request {
                content_type,
                ctx,
                body: Body::Stream(StreamHandle(Arc::clone(&slot))),
                route: Route::Stream(route),
            };
            let layered = service.clone().oneshot(request);
            guarded(None, async {
                layered.await.map_err(|err| into_error(err, SERVER_ID))
            })
            .await
            .map(|_| ())
        }
    }
    .map_err(|err| shared.name_error(err));
    let io = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    let Some(mut io) = io else { return };
    if matches!(&result, Err(err) if err.code == 499) {
        return; // the caller is gone: nobody reads a final frame
    }
    let end = match &result {
        Ok(()) => "EOS".to_string(),
        Err(err) => err.to_header_value(),
    };
    io.finish(end).await;
    // A go-micro client writes its own EOS once it has read ours, then closes: read it off rather
    // than reset the connection under it (its Close would report a broken pipe). A server that is
    // closing does not wait for it.
    tokio::select! {
        () = crate::transport::server_conn::linger(io.reader, io.writer) => {}
        () = super::reached(server, Phase::Closing) => {}
    }
}
