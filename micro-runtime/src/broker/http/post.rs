//! One delivery: `POST /?id=<node id>` to a subscriber's inbox, over a kept-alive connection.
//!
//! The request carries what Go's `http.Post` sends that a server reads: `Host`, `Content-Type:
//! application/json` and `Content-Length`. Each target task keeps its own connections (one per
//! address it sends to), so deliveries to one subscriber never wait behind another's.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::time::Duration;

use bytes::BytesMut;

use crate::client::pool::Conn;
use crate::transport::{FrameError, Limits, StartLine};

/// The connections of one target task, by address.
pub(super) struct Links {
    idle: HashMap<String, Conn>,
    timeout: Duration,
    limits: Limits,
}

/// Why a delivery did not get an answer.
#[derive(Debug)]
pub(super) enum PostError {
    /// The address is not something to dial.
    BadAddress,
    /// Dialing failed (refused, unreachable).
    Connect(io::Error),
    /// The connection failed or closed before the answer.
    Exchange(FrameError),
    /// No answer within the delivery timeout.
    Timeout(Duration),
}

impl fmt::Display for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PostError::BadAddress => f.write_str("the registered address is not host:port"),
            PostError::Connect(err) => write!(f, "cannot connect: {err}"),
            PostError::Exchange(err) => write!(f, "no answer: {err}"),
            PostError::Timeout(after) => write!(f, "no answer within {after:?}"),
        }
    }
}

impl Links {
    pub(super) fn new(timeout: Duration) -> Self {
        Self {
            idle: HashMap::new(),
            timeout,
            // Replies are small: a status line and at most a line of text.
            limits: Limits {
                max_message_bytes: 64 * 1024,
                header_read_timeout: timeout,
                ..Limits::default()
            },
        }
    }

    /// POSTs `envelope` for node `id` at `address`; the reply's status.
    ///
    /// An idle connection the subscriber closed meanwhile is replaced by a fresh one without
    /// counting as a failure: a request that found the connection closed was never read.
    pub(super) async fn post(
        &mut self,
        address: &str,
        id: &str,
        envelope: &[u8],
    ) -> Result<u16, PostError> {
        if address.is_empty() || address.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(PostError::BadAddress);
        }
        let mut request = BytesMut::new();
        encode_post(&mut request, address, id, envelope);
        let timeout = self.timeout;
        let attempt = async {
            if let Some(conn) = self.idle.remove(address).filter(Conn::is_reusable) {
                match exchange(conn, &request).await {
                    Ok(answer) => return Ok(answer),
                    Err(err) if is_stale(&err) => {}
                    Err(err) => return Err(PostError::Exchange(err)),
                }
            }
            let conn = Conn::dial(address, timeout, &self.limits)
                .await
                .map_err(PostError::Connect)?;
            exchange(conn, &request).await.map_err(PostError::Exchange)
        };
        let (status, conn) = tokio::time::timeout(timeout, attempt)
            .await
            .map_err(|_| PostError::Timeout(timeout))??;
        if let Some(conn) = conn {
            self.idle.insert(address.to_string(), conn);
        }
        Ok(status)
    }

    /// Closes the connections to addresses `keep` rejects (nodes that left the registry).
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.idle.retain(|address, _| keep(address));
    }
}

/// Sends one request and reads the answer: its status, and the connection if it stays open.
async fn exchange(mut conn: Conn, request: &[u8]) -> Result<(u16, Option<Conn>), FrameError> {
    conn.writer.queue_raw(request);
    conn.writer.flush().await?;
    let head = conn
        .reader
        .read_response_head()
        .await?
        .ok_or(FrameError::UnexpectedEof)?;
    let keep = !head.closes_connection();
    let status = match head.start {
        StartLine::Response { status, .. } => status,
        StartLine::Request { .. } => 0,
    };
    conn.reader.read_body(head).await?;
    Ok((status, keep.then_some(conn)))
}

// The connection was closed before the request was read: safe to send again.
fn is_stale(err: &FrameError) -> bool {
    matches!(err, FrameError::Io(_) | FrameError::UnexpectedEof)
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
