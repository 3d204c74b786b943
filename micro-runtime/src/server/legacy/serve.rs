//! Serving one legacy request: the envelope read, routed and answered on the connection's core.

use std::net::SocketAddr;

use bytes::Bytes;
use tokio::time::Instant;

use super::LegacyCodec;
use crate::context::Context;
use crate::metadata::{Metadata, is_reserved};
use crate::server::connection::{Shared, parse_timeout, serve_unary};
use crate::transport::{Frame, Headers};

/// Serves a request in go-micro's legacy json-rpc or proto-rpc envelope :
/// read the envelope, route, call the unary endpoint, answer in the same envelope; errors too.
pub(in crate::server) async fn serve(
    shared: &Shared,
    codec: LegacyCodec,
    frame: Frame,
    remote: Option<SocketAddr>,
) -> (Headers, Bytes) {
    let h = &frame.headers;
    let failed = |text: &str| {
        let headers = LegacyCodec::reply_headers(h, "", Some(text));
        (headers, codec.encode_error(text))
    };
    let request = match codec.decode(h, &frame.body, shared.limits.max_message_bytes) {
        Ok(request) => request,
        Err(err) => return failed(&err.to_string()),
    };
    let route = match request.route(&shared.router) {
        Ok(route) => route,
        Err(err) => return failed(&err.to_string()),
    };
    let deadline = h
        .get("Timeout")
        .and_then(parse_timeout)
        .map(|timeout| Instant::now() + timeout);
    let (endpoint, id) = (request.endpoint.clone(), request.id.clone());
    let message = match request.into_message() {
        Ok(message) => message,
        Err(err) => return failed(&err.to_string()),
    };
    let service = h.get_micro("Micro-Service").unwrap_or("").to_string();
    let metadata: Metadata = h.iter().filter(|(name, _)| !is_reserved(name)).collect();
    let ctx = Context::for_call(service, endpoint, id.clone(), remote, metadata, deadline);
    match serve_unary(shared, route, ctx, codec.message_type(), message).await {
        Ok(reply) => (
            LegacyCodec::reply_headers(h, &id, None),
            codec.encode_reply(&id, &reply),
        ),
        Err(err) => failed(&err.to_header_value()),
    }
}
