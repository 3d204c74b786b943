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
//! | a *reused* connection failed before a single byte of an answer | sent again once, on a fresh connection: the subscriber closed it while idle, as we sent (what HTTP clients do) |
//! | no answer in time, or the connection broke after the whole request was sent | `Unknown`: not retried |

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use bytes::BytesMut;
use tokio::time::Instant;

use crate::client::pool::Conn;
use crate::transport::{FrameError, Limits, StartLine};

/// The connections of one target task, by address.
pub(super) struct Links {
    idle: HashMap<String, Conn>,
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

// How one exchange over one connection failed.
enum Failed {
    NotSent(String),
    // Nothing came back on a reused connection: it was most likely closed as we sent.
    Stale(String),
    Unknown(String),
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
        if address.is_empty() || address.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(PostError::BadAddress);
        }
        let mut request = BytesMut::new();
        encode_post(&mut request, address, id, envelope);
        if let Some(conn) = self.idle.remove(address).filter(Conn::is_reusable) {
            match exchange(conn, &request, self.reply_timeout, true).await {
                Ok(answer) => return Ok(self.keep(address, answer)),
                Err(Failed::NotSent(why) | Failed::Stale(why)) => {
                    tracing::debug!(%address, error = %why, "HTTP broker: a kept-alive connection was closed; sending on a fresh one");
                }
                Err(Failed::Unknown(why)) => return Err(PostError::Unknown(why)),
            }
        }
        let conn = Conn::dial(address, self.dial_timeout, &self.limits)
            .await
            .map_err(|err| match err.kind() {
                std::io::ErrorKind::InvalidInput => PostError::BadAddress,
                _ => PostError::NotSent(format!("cannot connect: {err}")),
            })?;
        match exchange(conn, &request, self.reply_timeout, false).await {
            Ok(answer) => Ok(self.keep(address, answer)),
            Err(Failed::NotSent(why)) => Err(PostError::NotSent(why)),
            Err(Failed::Stale(why) | Failed::Unknown(why)) => Err(PostError::Unknown(why)),
        }
    }

    fn keep(&mut self, address: &str, (status, conn): (u16, Option<Conn>)) -> u16 {
        if let Some(conn) = conn {
            self.idle.insert(address.to_string(), conn);
        }
        status
    }

    /// Closes the connections to addresses `keep` rejects (nodes that left the registry).
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.idle.retain(|address, _| keep(address));
    }
}

/// Sends one request and reads the answer: its status, and the connection if it stays open.
async fn exchange(
    mut conn: Conn,
    request: &[u8],
    timeout: Duration,
    reused: bool,
) -> Result<(u16, Option<Conn>), Failed> {
    let deadline = Instant::now() + timeout;
    conn.writer.queue_raw(request);
    // The answer is read while the request is written: a subscriber that refuses the message
    // (413, too large) answers and closes without reading the body, and that answer must be seen
    // rather than the broken pipe that follows it.
    let early = {
        let (reader, writer) = (&mut conn.reader, &mut conn.writer);
        let written = tokio::time::timeout_at(deadline, writer.flush());
        let answered = reader.read_response_head();
        tokio::select! {
            biased;
            written = written => match written {
                Ok(Ok(())) => None,
                Ok(Err(err)) => return Err(not_sent(reused, format!("sending failed: {err}"))),
                Err(_) => return Err(Failed::NotSent(format!("sending took over {timeout:?}"))),
            },
            answered = answered => Some(answered),
        }
    };
    let head = match early {
        Some(Ok(Some(head))) => return Ok((status_of(&head.start), None)),
        Some(_) => return Err(not_sent(reused, "closed while sending".into())),
        None => tokio::time::timeout_at(deadline, conn.reader.read_response_head()).await,
    };
    let head = match head {
        Ok(Ok(Some(head))) => head,
        Ok(Ok(None)) if reused => return Err(Failed::Stale("closed before answering".into())),
        Ok(Err(FrameError::Io(err))) if reused && !conn.reader.has_buffered() => {
            return Err(Failed::Stale(err.to_string()));
        }
        Ok(Ok(None)) => return Err(Failed::Unknown("closed before answering".into())),
        Ok(Err(err)) => return Err(Failed::Unknown(format!("no answer: {err}"))),
        Err(_) => return Err(Failed::Unknown(format!("no answer within {timeout:?}"))),
    };
    let status = status_of(&head.start);
    let keep = !head.closes_connection();
    // The status is what matters; a body that does not arrive only costs the connection.
    let read = tokio::time::timeout_at(deadline, conn.reader.read_body(head)).await;
    let reusable = keep && matches!(read, Ok(Ok(_)));
    Ok((status, reusable.then_some(conn)))
}

fn not_sent(reused: bool, why: String) -> Failed {
    if reused {
        Failed::Stale(why)
    } else {
        Failed::NotSent(why)
    }
}

fn status_of(start: &StartLine) -> u16 {
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
