//! go-micro's framing: every RPC frame is one complete HTTP/1.1 message on a raw TCP socket.
//!
//! Requests are `POST / HTTP/1.1` and responses `HTTP/1.1 200 OK`, with `Content-Length` or, as Go
//! sends empty bodies, `Transfer-Encoding: chunked`. After
//! go-micro's server hijacks a connection, request and response frames flow independently (a stream
//! is N request frames and M response frames), so a stock HTTP server or client cannot carry them:
//! [`FrameReader`] parses messages one at a time with `httparse`, and [`encode_request`] /
//! [`encode_response`] write them.
//!
//! ```
//! use bytes::BytesMut;
//! use micro_runtime::transport::{FrameReader, Headers, Limits, StartLine, encode_request};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let mut headers = Headers::new();
//! headers.insert("Micro-Endpoint", "Greeter.Hello");
//! let mut wire = BytesMut::new();
//! encode_request(&mut wire, "127.0.0.1:8080", &headers, b"{}");
//!
//! let mut reader = FrameReader::new(&wire[..], Limits::default());
//! let frame = reader.read_request().await.unwrap().unwrap();
//! assert!(matches!(frame.start, StartLine::Request { ref method, .. } if method == "POST"));
//! assert_eq!(frame.headers.get("micro-endpoint"), Some("Greeter.Hello"));
//! assert_eq!(&frame.body[..], b"{}");
//! assert!(reader.read_request().await.unwrap().is_none());
//! # });
//! ```

use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

// Re-exported so `frame::*` names everything a frame user needs.
use super::budget::{BodyBudget, Charge};
use super::chunked::Chunked;
pub use super::encode::{encode_request, encode_response};
use super::parse::{self, Kind};
pub use super::{FrameError, Headers};

/// The interim response a server writes before reading a body the client holds back with
/// `Expect: 100-continue` (curl does this for bodies over 1 KiB).
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Size, time and connection limits: one set for every connection micro serves (the RPC server,
/// the HTTP broker's inbox) and, for the frame limits, for the connections it dials.
///
/// Together they bound what one client, or many, can hold: a stalled or oversized body, an idle
/// or half-open connection, a flood of connections. The defaults suit a service on a private
/// network; a server exposed to the internet may want them tighter.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest body accepted: a `Content-Length` over it is refused before the body is read, a
    /// chunked body as soon as its decoded size passes it. Default 4 MiB, go-micro's message size.
    pub max_message_bytes: usize,
    /// The largest header section (start line and headers). Default 16 KiB.
    pub max_header_bytes: usize,
    /// How long the header section of one frame may take to arrive, counted from its first byte
    /// (on a server's fresh connection, from the accept). Default 5 s, Go's `ReadHeaderTimeout` in
    /// go-micro's HTTP transport.
    pub header_read_timeout: Duration,
    /// How long a body may go without a new byte arriving. Default 10 s.
    pub body_progress_timeout: Duration,
    /// Servers: how long a kept-alive connection may wait for its next request (it is closed within
    /// a quarter of this after; the check costs no clock read per request). Default 90 s, longer
    /// than clients keep idle connections (micro's and go-micro's pools: 60 s), so that a server does
    /// not close a connection a client is about to reuse.
    pub idle_timeout: Duration,
    /// Servers: how long a stream may go with no frame read or written, in either direction, before
    /// it is closed (a half-open stream, or a reader that stopped reading), within a quarter of this
    /// after. Default 5 minutes; a stream that is quiet for longer on purpose should send something
    /// meanwhile.
    pub stream_idle_timeout: Duration,
    /// Servers: connections served at once. Past it, new connections get a 503 and are closed.
    /// Default 4096, or less when the process may open fewer files (its soft `RLIMIT_NOFILE`, less
    /// room for everything else), so that refusals come before the accept errors of a full file
    /// table.
    pub max_connections: usize,
    /// Servers: connections served at once from one IP address, so one client cannot take every
    /// slot. Default 512.
    pub max_connections_per_peer: usize,
    /// Servers: bytes all connections together may hold for bodies not yet complete (see
    /// [`BodyBudget`]). Default 64 MiB.
    pub max_pending_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 4 * 1024 * 1024,
            max_header_bytes: 16 * 1024,
            header_read_timeout: Duration::from_secs(5),
            body_progress_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(90),
            stream_idle_timeout: Duration::from_secs(300),
            max_connections: super::accept::default_max_connections(),
            max_connections_per_peer: 512,
            max_pending_body_bytes: 64 * 1024 * 1024,
        }
    }
}

/// How a frame's body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyLength {
    /// `Content-Length` bytes (0 when there is no length header), already checked against the limit.
    Fixed(usize),
    /// `Transfer-Encoding: chunked`: decoded as it arrives, held to the limit as it is.
    Chunked,
}

/// The first line of a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartLine {
    /// A request line: `POST / HTTP/1.1`.
    Request {
        /// The method, `POST` for every go-micro frame.
        method: String,
        /// The request target, `/` for every go-micro frame.
        path: String,
    },
    /// A status line: `HTTP/1.1 200 OK`.
    Response {
        /// The status code; go-micro answers 200 even for errors (they travel in `Micro-Error`).
        status: u16,
        /// The reason phrase.
        reason: String,
    },
}

/// A frame whose header section has been read but whose body has not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameHead {
    /// The request or status line.
    pub start: StartLine,
    /// The minor HTTP version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub version: u8,
    /// The headers, in wire order.
    pub headers: Headers,
    /// How the body is delimited.
    pub body: BodyLength,
}

impl FrameHead {
    /// Whether the sender waits for [`CONTINUE`] before sending the body (`Expect: 100-continue`).
    pub fn expects_continue(&self) -> bool {
        self.headers
            .get("Expect")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
    }

    /// The `Expect` header when it asks for something other than `100-continue`, which a server
    /// answers with 417.
    pub fn unsupported_expectation(&self) -> Option<&str> {
        self.headers
            .get("Expect")
            .filter(|v| !v.trim().eq_ignore_ascii_case("100-continue"))
    }

    /// Whether the connection ends after this frame: the sender asks for it with a `close` token in
    /// any `Connection` header (go-micro's client sends it with `WithConnClose()`), or speaks
    /// HTTP/1.0 without asking for `keep-alive` (RFC 9112 §9.3).
    pub fn closes_connection(&self) -> bool {
        let has = |wanted: &str| {
            self.headers
                .get_all("Connection")
                .flat_map(|v| v.split(','))
                .any(|token| token.trim().eq_ignore_ascii_case(wanted))
        };
        has("close") || (self.version == 0 && !has("keep-alive"))
    }
}

/// One complete frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The request or status line.
    pub start: StartLine,
    /// The headers, in wire order.
    pub headers: Headers,
    /// The body, split off the read buffer without copying.
    pub body: Bytes,
}

/// Bytes read per syscall on a stream's connection: a stream's messages arrive in batches, and
/// reading them 64 KiB at a time costs an eighth of the syscalls of the default 8 KiB.
pub const STREAM_READ_BYTES: usize = 64 * 1024;

/// A message frame of a stream, as [`FrameReader::read_stream_frame`] returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamFrame {
    /// The status of a response frame (go-micro answers 200 even for errors); 200 for requests.
    pub status: u16,
    /// The `Micro-Error` (or `X-Micro-Error`) header: `EOS` ends the stream, other text is an error.
    pub error: Option<String>,
    /// The body, split off the read buffer without copying.
    pub body: Bytes,
}

/// Reads frames from a byte stream, one HTTP/1.1 message at a time.
///
/// Buffers reads in one `BytesMut` that is reused across frames (mini-redis's `Connection`), so
/// back-to-back frames arriving in one TCP segment cost one read, and bodies are split off the
/// buffer without copying. The buffer grows with the bytes that arrive, never with a length a
/// sender announced, so a client that declares 4 MiB and sends nothing holds a few KiB.
///
/// The `read_*head` methods are cancel-safe (usable in `tokio::select!`): bytes already read stay
/// buffered, and a head is consumed only once complete. Cancelling restarts the header timeout.
/// Reading a body is not: cancelling one leaves the stream mid-frame, so drop the reader then.
#[derive(Debug)]
pub struct FrameReader<R> {
    io: R,
    buf: BytesMut,
    limits: Limits,
    // Whether the next head's timeout runs from the start of the read, not from its first byte.
    timeout_from_start: bool,
    // Room made for each read once the buffer runs low.
    read_size: usize,
    // Servers: the budget incomplete bodies draw on.
    budget: Option<BodyBudget>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// A reader over `io` with the given limits.
    ///
    /// The header timeout starts at the first byte of each frame, so an idle keep-alive connection
    /// waiting for its next frame is never timed out. See [`Self::with_first_frame_timeout`].
    pub fn new(io: R, limits: Limits) -> Self {
        Self {
            io,
            buf: BytesMut::with_capacity(8 * 1024),
            limits,
            timeout_from_start: false,
            read_size: 8 * 1024,
            budget: None,
        }
    }

    /// Draws the buffer space of bodies being read from `budget`, shared with other connections:
    /// a body waits for room (its socket unread) up to [`Limits::body_progress_timeout`], then
    /// fails with [`FrameError::Busy`].
    pub fn with_budget(mut self, budget: BodyBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Reads up to `bytes` per syscall (default 8 KiB). A stream of small messages arrives in
    /// large batches; reading them in 64 KiB costs an eighth of the syscalls.
    pub fn with_read_size(mut self, bytes: usize) -> Self {
        self.read_size = bytes.max(1024);
        self
    }

    /// Makes the header timeout of the *first* frame run from the start of the first read.
    ///
    /// For servers on a fresh connection: a client that connects and sends nothing is dropped after
    /// [`Limits::header_read_timeout`], as Go's `ReadHeaderTimeout` does for go-micro's first request.
    /// Later frames may idle as long as they like.
    pub fn with_first_frame_timeout(mut self) -> Self {
        self.timeout_from_start = true;
        self
    }

    /// Reads the head of the next request frame. `Ok(None)` is a clean end of stream between frames.
    pub async fn read_request_head(&mut self) -> Result<Option<FrameHead>, FrameError> {
        self.read_head(Kind::Request).await
    }

    /// Reads the head of the next final response, skipping interim `1xx` responses such as
    /// `100 Continue`. `Ok(None)` is a clean end of stream between frames.
    pub async fn read_response_head(&mut self) -> Result<Option<FrameHead>, FrameError> {
        let mut interim = false;
        loop {
            let Some(head) = self.read_head(Kind::Response).await? else {
                // After an interim response the final one is owed, so EOF is not clean.
                return if interim {
                    Err(FrameError::UnexpectedEof)
                } else {
                    Ok(None)
                };
            };
            match head.start {
                // An interim response has no body; its Content-Length, if any, is ignored.
                StartLine::Response { status, .. } if (100..200).contains(&status) => {
                    interim = true
                }
                _ => return Ok(Some(head)),
            }
        }
    }

    /// Reads the body `head` announces (some of it may already be buffered): a fixed length, or a
    /// chunked body decoded.
    pub async fn read_body(&mut self, head: FrameHead) -> Result<Frame, FrameError> {
        let body = self.read_body_bytes(head.body).await?;
        Ok(Frame {
            start: head.start,
            headers: head.headers,
            body,
        })
    }

    async fn read_body_bytes(&mut self, length: BodyLength) -> Result<Bytes, FrameError> {
        match length {
            // Most bodies arrived with their head: no read, and no future for one.
            BodyLength::Fixed(n) if self.buf.len() >= n => Ok(self.buf.split_to(n).freeze()),
            BodyLength::Fixed(n) => self.read_exact(n).await,
            BodyLength::Chunked => self.read_chunked().await,
        }
    }

    // The next `n` bytes, split off the buffer without copying.
    async fn read_exact(&mut self, n: usize) -> Result<Bytes, FrameError> {
        let mut charge = Charge::default();
        while self.buf.len() < n {
            // Room for what may arrive next, growing with what has arrived: a large body costs a
            // few doublings, a stalled one no more than one read's worth.
            let want = (n - self.buf.len()).min(self.read_size.max(self.buf.len()));
            self.buf.reserve(want);
            self.fill(&mut charge).await?;
        }
        Ok(self.buf.split_to(n).freeze())
    }

    async fn read_chunked(&mut self) -> Result<Bytes, FrameError> {
        let mut charge = Charge::default();
        let (limit, wait) = (
            self.limits.max_message_bytes,
            self.limits.body_progress_timeout,
        );
        let mut chunked = Chunked::new(limit, self.limits.max_header_bytes);
        while !chunked.decode(&mut self.buf)? {
            if self.buf.capacity() - self.buf.len() < 1024 {
                self.buf.reserve(self.read_size);
            }
            if let Some(budget) = &self.budget {
                let held = chunked.held() + self.buf.capacity();
                charge.cover(budget, held, wait).await?;
            }
            self.read_more().await?;
        }
        Ok(chunked.into_body().freeze())
    }

    // One read into the buffer's spare room, after making sure the budget covers the buffer.
    async fn fill(&mut self, charge: &mut Charge) -> Result<(), FrameError> {
        if let Some(budget) = &self.budget {
            let wait = self.limits.body_progress_timeout;
            charge.cover(budget, self.buf.capacity(), wait).await?;
        }
        self.read_more().await
    }

    // One read of a body's bytes, bounded by the body progress timeout.
    async fn read_more(&mut self) -> Result<(), FrameError> {
        let read = self.io.read_buf(&mut self.buf);
        match tokio::time::timeout(self.limits.body_progress_timeout, read).await {
            Ok(Ok(0)) => Err(FrameError::UnexpectedEof),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(err.into()),
            Err(_) => Err(FrameError::BodyTimeout {
                after: self.limits.body_progress_timeout,
            }),
        }
    }

    /// Reads the next message frame of a stream: its status, `Micro-Error` and body only.
    ///
    /// A stream's data frames carry nothing else a receiver uses, so their headers are checked and
    /// skipped rather than collected: no allocation per header, which is most of the cost of a
    /// small message. Reads requests when `requests`, else final responses (interim `1xx` ones are
    /// skipped). `Ok(None)` is a clean end of stream between frames.
    pub async fn read_stream_frame(
        &mut self,
        requests: bool,
    ) -> Result<Option<StreamFrame>, FrameError> {
        let kind = if requests {
            Kind::Request
        } else {
            Kind::Response
        };
        loop {
            let head = self.read_until(|buf, limits| {
                parse::lean(buf, kind, limits.max_header_bytes, limits.max_message_bytes)
            });
            let Some(head) = head.await? else {
                return Ok(None);
            };
            if (100..200).contains(&head.status) {
                continue;
            }
            let body = self.read_body_bytes(head.body).await?;
            return Ok(Some(StreamFrame {
                status: head.status,
                error: head.error,
                body,
            }));
        }
    }

    /// Reads the next complete request frame. `Ok(None)` is a clean end of stream between frames.
    pub async fn read_request(&mut self) -> Result<Option<Frame>, FrameError> {
        match self.read_request_head().await? {
            Some(head) => self.read_body(head).await.map(Some),
            None => Ok(None),
        }
    }

    /// Reads the next complete final response. `Ok(None)` is a clean end of stream between frames.
    pub async fn read_response(&mut self) -> Result<Option<Frame>, FrameError> {
        match self.read_response_head().await? {
            Some(head) => self.read_body(head).await.map(Some),
            None => Ok(None),
        }
    }

    /// Whether the whole body of `head` is already buffered, so a server need not send [`CONTINUE`]
    /// (the client sent it without waiting). A chunked body counts as buffered once any of it is.
    pub fn body_buffered(&self, head: &FrameHead) -> bool {
        match head.body {
            BodyLength::Fixed(n) => self.buf.len() >= n,
            BodyLength::Chunked => !self.buf.is_empty(),
        }
    }

    /// Whether bytes past the frames returned so far are buffered: on an idle client connection,
    /// data nobody asked for (or a half-read frame) means the connection should not be reused.
    pub fn has_buffered(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &R {
        &self.io
    }

    /// The underlying stream, mutably. Reading from it directly loses the frame boundaries.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.io
    }

    /// The underlying stream. Bytes already buffered but not yet returned as frames are lost.
    pub fn into_inner(self) -> R {
        self.io
    }

    async fn read_head(&mut self, kind: Kind) -> Result<Option<FrameHead>, FrameError> {
        self.read_until(|buf, limits| {
            parse::head(buf, kind, limits.max_header_bytes, limits.max_message_bytes)
        })
        .await
    }

    // Reads until `parse` finds a complete head at the front of the buffer, enforcing the header
    // size and time limits. Ok(None) is a clean end of stream between frames.
    async fn read_until<T>(
        &mut self,
        mut parse: impl FnMut(&[u8], &Limits) -> Result<Option<(T, usize)>, FrameError>,
    ) -> Result<Option<T>, FrameError> {
        let timeout = self.limits.header_read_timeout;
        let mut deadline =
            std::mem::take(&mut self.timeout_from_start).then(|| Instant::now() + timeout);
        loop {
            if let Some((head, len)) = parse(&self.buf, &self.limits)? {
                self.buf.advance(len);
                return Ok(Some(head));
            }
            // The clock starts with the frame's first byte (possibly left over from the last read).
            // It is read only when we must wait: a frame already buffered costs no clock call.
            if deadline.is_none() && !self.buf.is_empty() {
                deadline = Some(Instant::now() + timeout);
            }
            if self.buf.len() > self.limits.max_header_bytes {
                return Err(FrameError::HeaderTooLarge {
                    limit: self.limits.max_header_bytes,
                });
            }
            if self.buf.capacity() - self.buf.len() < 1024 {
                self.buf.reserve(self.read_size);
            }
            let read = self.io.read_buf(&mut self.buf);
            let n = match deadline {
                Some(at) => tokio::time::timeout_at(at, read)
                    .await
                    .map_err(|_| FrameError::HeaderTimeout)??,
                None => read.await?,
            };
            if n == 0 {
                // Blank lines between messages are allowed (RFC 9112 §2.2), so they end cleanly too.
                return if self.buf.iter().all(|b| matches!(b, b'\r' | b'\n')) {
                    Ok(None)
                } else {
                    Err(FrameError::UnexpectedEof)
                };
            }
        }
    }
}

crate::setters!(Limits {
    /// Sets [`Limits::max_message_bytes`].
    max_message_bytes: usize,
    /// Sets [`Limits::max_header_bytes`].
    max_header_bytes: usize,
    /// Sets [`Limits::header_read_timeout`].
    header_read_timeout: Duration,
    /// Sets [`Limits::body_progress_timeout`].
    body_progress_timeout: Duration,
    /// Sets [`Limits::idle_timeout`].
    idle_timeout: Duration,
    /// Sets [`Limits::stream_idle_timeout`].
    stream_idle_timeout: Duration,
    /// Sets [`Limits::max_connections`].
    max_connections: usize,
    /// Sets [`Limits::max_connections_per_peer`].
    max_connections_per_peer: usize,
    /// Sets [`Limits::max_pending_body_bytes`].
    max_pending_body_bytes: usize,
});
