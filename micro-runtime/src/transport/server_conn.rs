//! [`ServerConn`]: the one HTTP/1.1 connection core every micro listener serves requests with.
//!
//! The RPC server and the HTTP broker's inbox differ in what they do with a request, not in how
//! they read one, so the reading lives here with one set of [`Limits`]: the first request's
//! headers within the header timeout from the accept, later ones within the idle timeout, each
//! head within the header timeout from its first byte, bodies under the progress timeout and the
//! listener's [`BodyBudget`], `Expect` answered (100 Continue, or 417), and the connection closed
//! after `Connection: close` or an HTTP/1.0 request. A refusal is written and the connection
//! lingers briefly before closing, so the client reads the answer rather than a reset.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::accept::{Accepted, Slot, socket_peer};
use super::halves::{ReadHalf, WriteHalf};
use super::{BodyBudget, CONTINUE, Frame, FrameError, FrameReader, FrameWriter, Headers, Limits};

/// After refusing a request, how much of what the client still sends is read and thrown away,
/// and for how long, so that closing does not reset the connection before the client has read
/// the refusal (Go's server lingers the same way).
const LINGER_BYTES: usize = 256 * 1024;
const LINGER_TIME: Duration = Duration::from_secs(1);

/// What the next request on a connection turned out to be.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A complete request; `close` when the connection ends after its answer.
    Request {
        /// The request.
        frame: Frame,
        /// Whether the client asked to close after this request (or spoke HTTP/1.0).
        close: bool,
    },
    /// The client left between requests, idled past the idle timeout, or the caller's stop signal
    /// came: close without an answer.
    Closed,
    /// The request broke HTTP or a limit: answer `status` (the caller words the body) and close.
    Refused {
        /// The HTTP status to answer with.
        status: u16,
        /// What went wrong, for the answer and the log.
        why: String,
    },
}

/// One accepted connection, served one request at a time.
pub(crate) struct ServerConn {
    pub(crate) reader: ReadHalf,
    pub(crate) writer: WriteHalf,
    /// The peer, when the transport names it by a socket address (TCP always does).
    pub(crate) remote: Option<SocketAddr>,
    idle: IdleWatch,
    first: bool,
    _slot: Slot,
}

/// The idle keep-alive timeout, kept without reading the clock per request: requests only bump a
/// count, and one timer per connection ticks four times per timeout. The connection is idle after
/// four ticks in a row without a request, between one and one and a quarter timeouts after the
/// last one.
struct IdleWatch {
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
    tick: Duration,
    requests: u64,
    seen: u64,
    quiet: u32,
}

impl IdleWatch {
    const TICKS: u32 = 4;

    fn new(timeout: Duration) -> Self {
        let tick = timeout / Self::TICKS;
        Self {
            timer: Box::pin(tokio::time::sleep(tick)),
            tick,
            requests: 0,
            seen: 0,
            quiet: 0,
        }
    }

    /// Called when the timer fires: whether the connection has now been idle long enough.
    fn expired(&mut self) -> bool {
        if self.requests == self.seen {
            self.quiet += 1;
        } else {
            (self.seen, self.quiet) = (self.requests, 0);
        }
        let deadline = tokio::time::Instant::now() + self.tick;
        self.timer.as_mut().reset(deadline);
        self.quiet >= Self::TICKS
    }
}

impl ServerConn {
    /// Serves an accepted connection, holding its place in the acceptor's count until dropped.
    pub(crate) fn new(
        accepted: Accepted,
        limits: &Limits,
        budget: &BodyBudget,
        slot: Slot,
    ) -> Self {
        let (reader, writer, remote) = match accepted {
            Accepted::Tcp(socket, remote) => {
                let _ = socket.set_nodelay(true);
                let (read, write) = socket.into_split();
                let reader = FrameReader::new(read, limits.clone())
                    .with_first_frame_timeout()
                    .with_budget(budget.clone());
                (
                    ReadHalf::Http(reader),
                    WriteHalf::Http(FrameWriter::new(write)),
                    Some(remote),
                )
            }
            Accepted::Socket(socket) => {
                let remote = socket_peer(&socket);
                (
                    ReadHalf::Socket(socket.reader),
                    WriteHalf::socket(socket.writer),
                    remote,
                )
            }
        };
        Self {
            reader,
            writer,
            remote,
            idle: IdleWatch::new(limits.idle_timeout),
            first: true,
            _slot: slot,
        }
    }

    /// Reads the next request. `stop` ends the wait between requests (a server shutting down);
    /// once a request has begun, it is read to its end.
    pub(crate) async fn next(&mut self, stop: impl Future<Output = ()>) -> Incoming {
        // The first request is bounded by the header timeout from the accept; later ones by the
        // idle timeout, then the header timeout from their first byte.
        let first = std::mem::replace(&mut self.first, false);
        let ReadHalf::Http(reader) = &mut self.reader else {
            return self.next_message(stop).await;
        };
        let head = {
            // Pinned where they are, so the select moves nothing per request.
            let mut read = std::pin::pin!(reader.read_request_head());
            let mut stop = std::pin::pin!(stop);
            loop {
                tokio::select! {
                    biased;
                    head = &mut read => break head,
                    () = &mut stop => return Incoming::Closed,
                    () = self.idle.timer.as_mut(), if !first => {
                        if self.idle.expired() {
                            tracing::debug!(remote = ?self.remote, "closing an idle connection");
                            return Incoming::Closed;
                        }
                    }
                }
            }
        };
        let head = match head {
            Ok(Some(head)) => head,
            Ok(None) => return Incoming::Closed,
            Err(err) => return refused(self.remote, err),
        };
        self.idle.requests += 1;
        if let Some(expect) = head.unsupported_expectation() {
            return Incoming::Refused {
                status: 417,
                why: format!("Expect: {expect} is not supported (only 100-continue)"),
            };
        }
        if head.expects_continue() && !reader.body_buffered(&head) {
            // curl waits for this before sending a body over 1 KiB.
            if let WriteHalf::Http(writer) = &mut self.writer {
                writer.queue_raw(CONTINUE);
            }
            if self.writer.flush().await.is_err() {
                return Incoming::Closed;
            }
        }
        let close = head.closes_connection();
        match reader.read_body(head).await {
            Ok(frame) => Incoming::Request { frame, close },
            Err(err) => refused(self.remote, err),
        }
    }

    /// The next request on another transport's socket: whole messages, so only the idle timeout
    /// and the stop signal apply.
    async fn next_message(&mut self, stop: impl Future<Output = ()>) -> Incoming {
        let mut read = std::pin::pin!(self.reader.read_request());
        let mut stop = std::pin::pin!(stop);
        let read = loop {
            tokio::select! {
                biased;
                read = &mut read => break read,
                () = &mut stop => return Incoming::Closed,
                () = self.idle.timer.as_mut() => {
                    if self.idle.expired() {
                        tracing::debug!(remote = ?self.remote, "closing an idle connection");
                        return Incoming::Closed;
                    }
                }
            }
        };
        self.idle.requests += 1;
        match read {
            Ok(Some(frame)) => Incoming::Request {
                frame,
                close: false,
            },
            Ok(None) => Incoming::Closed,
            Err(err) => refused(self.remote, err),
        }
    }

    /// The connection's halves and its place in the count, for a stream to take over.
    pub(crate) fn into_parts(self) -> (ReadHalf, WriteHalf, Slot) {
        (self.reader, self.writer, self._slot)
    }

    /// Writes a last answer with `Connection: close`, then closes as [`Self::linger`] does.
    pub(crate) async fn close_with(mut self, status: u16, mut headers: Headers, body: &[u8]) {
        headers.insert("Connection", "close");
        self.writer.queue_response(status, &headers, body);
        if self.writer.flush().await.is_ok() {
            self.linger().await;
        }
    }

    /// Closes the connection once its last answer is written; see [`linger`].
    pub(crate) async fn linger(self) {
        linger(self.reader, self.writer).await;
    }
}

/// What a read error means for the connection: a peer that dropped is closed quietly; anything
/// else is refused with the error's status.
fn refused(remote: Option<SocketAddr>, err: FrameError) -> Incoming {
    if matches!(err, FrameError::Io(_) | FrameError::UnexpectedEof) {
        tracing::debug!(?remote, error = %err, "connection dropped");
        return Incoming::Closed;
    }
    Incoming::Refused {
        status: err.status(),
        why: err.to_string(),
    }
}

/// Closes a connection whose last answer is written: the write side first, then, after reading off
/// a bounded amount of what the client is still sending (a body, requests it pipelined, a stream's
/// closing `EOS`), the rest. Closing with unread bytes would reset the connection, and a reset can
/// destroy the answer before the client reads it, or fail the client's last write. Another
/// transport's socket is closed and dropped.
pub(crate) async fn linger(reader: ReadHalf, writer: WriteHalf) {
    if writer.shutdown().await.is_err() {
        return;
    }
    let ReadHalf::Http(reader) = reader else {
        return;
    };
    let mut read = reader.into_inner();
    let mut sink = vec![0u8; 16 * 1024];
    let mut drained = 0;
    let _ = tokio::time::timeout(LINGER_TIME, async {
        while drained < LINGER_BYTES {
            match read.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    })
    .await;
}
