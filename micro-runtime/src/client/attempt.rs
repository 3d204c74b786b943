//! One unary attempt on one node: go-micro's request frame on a pooled connection, and the reply.

use bytes::Bytes;
use tokio::time::Instant;

use super::Inner;
use super::request::{Attempt, CallBody};
use crate::codec::ContentType;
use crate::error::{CLIENT_ID, Error};
use crate::metadata::{Metadata, is_reserved, valid_header};
use crate::registry::Node;
use crate::selector::NodeRef;
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
            ClientConn::connect(
                &*inner.options.transport,
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

/// What one attempt needs besides its node, borrowed from the call.
pub(crate) struct AttemptInfo<'a> {
    pub(super) service: &'a str,
    pub(super) endpoint: &'a str,
    pub(super) content_type: ContentType,
    pub(super) body: &'a CallBody,
    pub(super) metadata: &'a crate::metadata::Metadata,
    pub(super) deadline: Option<Instant>,
}

impl AttemptInfo<'_> {
    /// The owned request attempt layers see.
    pub(super) fn to_attempt(&self, node: &NodeRef) -> Attempt {
        Attempt {
            node: node.clone(),
            service: self.service.to_string(),
            endpoint: self.endpoint.to_string(),
            content_type: self.content_type,
            body: self.body.clone(),
            metadata: self.metadata.clone(),
            deadline: self.deadline,
        }
    }
}

/// Why an attempt failed, which decides whether the call goes on to another node. An attempt
/// layer that refuses an attempt before sending anything (an open circuit) returns
/// [`AttemptError::unsent`], and the call moves on.
#[derive(Debug)]
pub struct AttemptError {
    /// The error the caller gets if this was the last try.
    pub error: Error,
    /// What the failure means for trying another node.
    pub kind: AttemptFailure,
}

/// What an attempt's failure means for trying another node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptFailure {
    /// Nothing was sent: always safe to try another node.
    Unsent,
    /// The request may have reached the server: another node only for idempotent calls.
    MaybeSent,
    /// The node answered (an application error) or the deadline passed: the call ends.
    Final,
}

impl AttemptError {
    /// Nothing was sent: the call tries another node.
    pub fn unsent(error: Error) -> Self {
        Self {
            error,
            kind: AttemptFailure::Unsent,
        }
    }

    /// The request may have been sent.
    pub fn maybe_sent(error: Error) -> Self {
        Self {
            error,
            kind: AttemptFailure::MaybeSent,
        }
    }

    /// The node answered with this error.
    pub fn answered(error: Error) -> Self {
        Self {
            error,
            kind: AttemptFailure::Final,
        }
    }
}

impl std::fmt::Display for AttemptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for AttemptError {}
