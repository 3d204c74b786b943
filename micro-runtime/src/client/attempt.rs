//! One unary attempt on one node: go-micro's request frame on a pooled connection, and the reply.

use bytes::Bytes;
use tokio::time::Instant;

use super::Inner;
use super::request::AttemptError;
use crate::codec::ContentType;
use crate::error::{CLIENT_ID, Error};
use crate::metadata::{Metadata, is_reserved, valid_header};
use crate::registry::Node;
use crate::stream::remote::reply_body;
use crate::transport::pool::ClientConn;
use crate::transport::{Frame, Headers, StartLine};

/// The headers go-micro's client sends, plus the caller's metadata.
pub(super) fn request_headers(
    client: &Inner,
    service: &str,
    endpoint: &str,
    content_type: ContentType,
    metadata: &Metadata,
    deadline: Option<Instant>,
) -> Result<Headers, Error> {
    let mut headers = Headers::with_capacity(8 + metadata.len());
    for (name, value) in metadata.iter() {
        if is_reserved(name) {
            continue;
        }
        if !valid_header(name, value) {
            return Err(Error::bad_request(format!(
                "metadata {name:?} cannot be sent as a header"
            ))
            .with_id(CLIENT_ID));
        }
        headers.insert(name, value);
    }
    headers.insert("Content-Type", content_type.as_str());
    headers.insert("Micro-Service", service);
    headers.insert("Micro-Endpoint", endpoint);
    headers.insert("Micro-Method", endpoint);
    headers.insert("Micro-Id", client.next_id());
    if let Some(deadline) = deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        headers.insert("Timeout", left.as_nanos().max(1).to_string());
    }
    Ok(headers)
}

pub(super) async fn attempt_once(
    inner: &Inner,
    node: &Node,
    headers: Headers,
    body: &[u8],
    deadline: Instant,
) -> Result<Bytes, AttemptError> {
    let address = node.address.as_str();
    let mut conn = match inner.pool.take(address) {
        Some(conn) => conn,
        None => {
            let left = deadline.saturating_duration_since(Instant::now());
            ClientConn::dial(
                address,
                inner.options.dial_timeout.min(left),
                &inner.options.limits,
            )
            .await
            .map_err(|e| {
                AttemptError::unsent(
                    Error::internal_server_error(format!("connection error: {address}: {e}"))
                        .with_id(CLIENT_ID),
                )
            })?
        }
    };
    conn.writer.queue_request(address, &headers, body);
    let exchange = async {
        conn.writer.flush().await.map_err(|e| e.to_string())?;
        conn.reader.read_response().await.map_err(|e| e.to_string())
    };
    let frame = match tokio::time::timeout_at(deadline, exchange).await {
        Err(_) => {
            return Err(AttemptError::maybe_sent(
                Error::timeout(format!("call to {address} timed out")).with_id(CLIENT_ID),
            ));
        }
        Ok(Err(e)) => return Err(AttemptError::maybe_sent(transport_error(address, &e))),
        Ok(Ok(None)) => {
            return Err(AttemptError::maybe_sent(transport_error(
                address,
                "connection closed before the reply",
            )));
        }
        Ok(Ok(Some(frame))) => frame,
    };
    // A server that is shutting down (or any HTTP peer) closes after `Connection: close`.
    let closing = frame
        .headers
        .get("Connection")
        .is_some_and(|v| v.eq_ignore_ascii_case("close"));
    let reply = read_reply(frame);
    // The frame was read whole, so the connection is clean whatever the answer was.
    if !closing {
        inner.pool.put(address, conn);
    }
    reply.map_err(AttemptError::answered)
}

/// Turns a response frame into the reply body or the server's error.
fn read_reply(frame: Frame) -> Result<Bytes, Error> {
    match frame.start {
        StartLine::Response { status, .. } => {
            reply_body(status, frame.headers.get_micro("Micro-Error"), frame.body)
        }
        StartLine::Request { .. } => Err(transport_error("peer", "answered with a request")),
    }
}

fn transport_error(address: &str, detail: &str) -> Error {
    Error::internal_server_error(format!("{address}: {detail}"))
        .with_id("go.micro.client.transport")
}
