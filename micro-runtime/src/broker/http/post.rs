//! One delivery: `POST /?id=<node id>` to a subscriber's inbox, over a kept-alive connection.
//!
//! The request carries what Go's `http.Post` sends that a server reads: `Host`, `Content-Type:
//! application/json` and `Content-Length`. Each target task keeps its own connections (one per
//! address it sends to), so deliveries to one subscriber never wait behind another's.
//!
//! go-micro's inbox answers only after its handler has run, so a missing answer does not mean a
//! missing delivery. To stay at-most-once, a failure counts as "not delivered" (and may be retried)
//! only when it proves the subscriber never got the whole message:
//!
//! | failure | [`PostError`] |
//! |---|---|
//! | the address is not `host:port` | `BadAddress`: never retried |
//! | dialing failed or timed out | `NotSent` |
//! | the request could not be written in full (a server acts only on a complete body) | `NotSent` |
//! | an earlier reply on the connection said `Connection: close` (the server reads no further) | `NotSent` |
//! | a *reused* connection failed before a single byte of an answer | sent again once, on a fresh connection: the subscriber closed it while idle, as we sent (what HTTP clients do) |
//! | no answer in time, or the connection broke after the whole request was sent | `Unknown`: not retried |
//!
//! Several requests may be in flight on one connection (`pipeline.rs`); the table holds for each.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use bytes::BytesMut;

use super::pipeline::{Failed, exchange};
use crate::transport::pool::HttpConn;
use crate::transport::{Limits, StartLine};

/// The connections of one target task, by address.
pub(super) struct Links {
    idle: HashMap<String, HttpConn>,
    dial_timeout: Duration,
    reply_timeout: Duration,
    limits: Limits,
}

/// Why a delivery got no answer, and what that proves.
#[derive(Debug)]
pub(super) enum PostError {
    /// The address is not something to dial; retrying cannot help.
    BadAddress,
    /// The subscriber did not get the message: safe to send again.
    NotSent(String),
    /// The subscriber may have the message: sending it again could deliver it twice.
    Unknown(String),
}

impl fmt::Display for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PostError::BadAddress => f.write_str("the registered address is not host:port"),
            PostError::NotSent(why) => write!(f, "not delivered: {why}"),
            PostError::Unknown(why) => write!(f, "sent, but {why}"),
        }
    }
}

impl Links {
    pub(super) fn new(dial_timeout: Duration, reply_timeout: Duration) -> Self {
        Self {
            idle: HashMap::new(),
            dial_timeout,
            reply_timeout,
            // Replies are small: a status line and at most a line of text.
            limits: Limits {
                max_message_bytes: 64 * 1024,
                header_read_timeout: reply_timeout,
                ..Limits::default()
            },
        }
    }

    /// POSTs `envelope` for node `id` at `address`; the reply's status.
    pub(super) async fn post(
        &mut self,
        address: &str,
        id: &str,
        envelope: &[u8],
    ) -> Result<u16, PostError> {
        let mut results = self.post_many(address, id, &[envelope]).await;
        results.pop().unwrap_or(Err(PostError::BadAddress))
    }

    /// POSTs each of `envelopes` for node `id` at `address`, pipelined on one connection (see
    /// `pipeline.rs`); each one's reply status, in order.
    pub(super) async fn post_many(
        &mut self,
        address: &str,
        id: &str,
        envelopes: &[&[u8]],
    ) -> Vec<Result<u16, PostError>> {
        let every = |err: &dyn Fn() -> PostError| envelopes.iter().map(|_| Err(err())).collect();
        if address.is_empty() || address.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return every(&|| PostError::BadAddress);
        }
        let mut wire = BytesMut::new();
        let ends: Vec<usize> = envelopes
            .iter()
            .map(|envelope| {
                encode_post(&mut wire, address, id, envelope);
                wire.len()
            })
            .collect();
        if let Some(conn) = self.idle.remove(address).filter(HttpConn::is_reusable) {
            let (results, conn) = exchange(conn, &wire, &ends, self.reply_timeout, true).await;
            // Nothing answered and nothing was proven delivered: the subscriber closed the
            // connection while it sat idle.
            let stale = |r: &_| matches!(r, Err(Failed::Stale(_) | Failed::NotSent(_)));
            if !results.iter().all(stale) {
                return self.keep(address, results, conn);
            }
            tracing::debug!(%address, "HTTP broker: a kept-alive connection was closed; sending on a fresh one");
        }
        let conn = match HttpConn::dial(address, self.dial_timeout, &self.limits).await {
            Ok(conn) => conn,
            Err(err) if err.kind() == std::io::ErrorKind::InvalidInput => {
                return every(&|| PostError::BadAddress);
            }
            Err(err) => return every(&|| PostError::NotSent(format!("cannot connect: {err}"))),
        };
        let (results, conn) = exchange(conn, &wire, &ends, self.reply_timeout, false).await;
        self.keep(address, results, conn)
    }

    fn keep(
        &mut self,
        address: &str,
        results: Vec<Result<u16, Failed>>,
        conn: Option<HttpConn>,
    ) -> Vec<Result<u16, PostError>> {
        if let Some(conn) = conn {
            self.idle.insert(address.to_string(), conn);
        }
        let proven = |result| match result {
            Ok(status) => Ok(status),
            Err(Failed::NotSent(why)) => Err(PostError::NotSent(why)),
            // Stale only on a reused connection, which the caller sends again on a fresh one.
            Err(Failed::Stale(why) | Failed::Unknown(why)) => Err(PostError::Unknown(why)),
        };
        results.into_iter().map(proven).collect()
    }

    /// Closes the connections to addresses `keep` rejects (nodes that left the registry).
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.idle.retain(|address, _| keep(address));
    }
}

pub(super) fn status_of(start: &StartLine) -> u16 {
    match start {
        StartLine::Response { status, .. } => *status,
        StartLine::Request { .. } => 0,
    }
}

/// Writes the request Go's `http.Post("http://<address>/?id=<id>", "application/json", body)`
/// makes, minus `User-Agent` and `Accept-Encoding`, which go-micro's inbox ignores. The id is
/// query-encoded as Go's `url.Values.Encode` does it.
pub(super) fn encode_post(dst: &mut BytesMut, address: &str, id: &str, body: &[u8]) {
    dst.reserve(128 + address.len() + id.len() + body.len());
    dst.extend_from_slice(b"POST /?id=");
    for part in form_urlencoded::byte_serialize(id.as_bytes()) {
        dst.extend_from_slice(part.as_bytes());
    }
    dst.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    dst.extend_from_slice(address.as_bytes());
    dst.extend_from_slice(b"\r\nContent-Type: application/json\r\nContent-Length: ");
    dst.extend_from_slice(body.len().to_string().as_bytes());
    dst.extend_from_slice(b"\r\n\r\n");
    dst.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::FrameReader;

    #[tokio::test]
    async fn the_request_is_what_go_sends() {
        let mut wire = BytesMut::new();
        encode_post(&mut wire, "10.0.0.1:8080", "ev ents/1-x", b"{}");
        assert_eq!(
            &wire[..],
            b"POST /?id=ev+ents%2F1-x HTTP/1.1\r\nHost: 10.0.0.1:8080\r\n\
              Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        );
        let mut reader = FrameReader::new(&wire[..], Limits::default());
        let frame = reader.read_request().await.unwrap().unwrap();
        let StartLine::Request { path, .. } = frame.start else {
            panic!("not a request")
        };
        let query = path.split_once('?').unwrap().1;
        let (key, id) = form_urlencoded::parse(query.as_bytes()).next().unwrap();
        assert_eq!((&*key, &*id), ("id", "ev ents/1-x"));
    }
}
