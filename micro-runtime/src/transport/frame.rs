//! go-micro's framing: every RPC frame is one complete HTTP/1.1 message on a raw TCP socket.
//!
//! Requests are `POST / HTTP/1.1` and responses `HTTP/1.1 200 OK`, both with `Content-Length`. After
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
pub use super::{FrameError, Headers};

/// The interim response a server writes before reading a body the client holds back with
/// `Expect: 100-continue` (curl does this for bodies over 1 KiB).
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

// Headers are parsed into a stack array of this size; more is `TooManyHeaders` (431).
const MAX_HEADERS: usize = 64;

/// Size and time limits for reading frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest body accepted, decided from `Content-Length` before reading it. Default 4 MiB,
    /// go-micro's message size.
    pub max_message_bytes: usize,
    /// The largest header section (start line and headers). Default 16 KiB.
    pub max_header_bytes: usize,
    /// How long the header section of one frame may take to arrive, counted from its first byte.
    /// Default 5 s, Go's `ReadHeaderTimeout` in go-micro's HTTP transport.
    pub header_read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 4 * 1024 * 1024,
            max_header_bytes: 16 * 1024,
            header_read_timeout: Duration::from_secs(5),
        }
    }
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
    /// The headers, in wire order.
    pub headers: Headers,
    /// The body length from `Content-Length` (0 when absent), already checked against the limit.
    pub content_length: usize,
}

impl FrameHead {
    /// Whether the sender waits for [`CONTINUE`] before sending the body (`Expect: 100-continue`).
    pub fn expects_continue(&self) -> bool {
        self.headers
            .get("Expect")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
    }

    /// Whether the sender asks to close the connection after this frame (`Connection: close`),
    /// which go-micro's client sends with `WithConnClose()`.
    pub fn closes_connection(&self) -> bool {
        self.headers
            .get_all("Connection")
            .flat_map(|v| v.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case("close"))
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

/// Reads frames from a byte stream, one HTTP/1.1 message at a time.
///
/// Buffers reads in one `BytesMut` that is reused across frames (mini-redis's `Connection`), so
/// back-to-back frames arriving in one TCP segment cost one read, and bodies are split off the
/// buffer without copying.
///
/// The `read_*` methods are cancel-safe (usable in `tokio::select!`): bytes already read stay
/// buffered, and a head is consumed only once complete. Cancelling restarts the header timeout.
#[derive(Debug)]
pub struct FrameReader<R> {
    io: R,
    buf: BytesMut,
    limits: Limits,
    // Whether the next head's timeout runs from the start of the read, not from its first byte.
    timeout_from_start: bool,
}

#[derive(Clone, Copy)]
enum Kind {
    Request,
    Response,
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
        }
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

    /// Reads exactly `head.content_length` body bytes (some may already be buffered).
    pub async fn read_body(&mut self, head: FrameHead) -> Result<Frame, FrameError> {
        let n = head.content_length;
        if self.buf.len() < n {
            self.buf.reserve(n - self.buf.len());
        }
        while self.buf.len() < n {
            if self.io.read_buf(&mut self.buf).await? == 0 {
                return Err(FrameError::UnexpectedEof);
            }
        }
        Ok(Frame {
            start: head.start,
            headers: head.headers,
            body: self.buf.split_to(n).freeze(),
        })
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
    /// (the client sent it without waiting).
    pub fn body_buffered(&self, head: &FrameHead) -> bool {
        self.buf.len() >= head.content_length
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
        let timeout = self.limits.header_read_timeout;
        let mut deadline =
            std::mem::take(&mut self.timeout_from_start).then(|| Instant::now() + timeout);
        loop {
            // The clock starts with the frame's first byte (possibly left over from the last read).
            if deadline.is_none() && !self.buf.is_empty() {
                deadline = Some(Instant::now() + timeout);
            }
            if let Some(head) = self.parse_head(kind)? {
                return Ok(Some(head));
            }
            if self.buf.len() > self.limits.max_header_bytes {
                return Err(FrameError::HeaderTooLarge {
                    limit: self.limits.max_header_bytes,
                });
            }
            if self.buf.capacity() - self.buf.len() < 1024 {
                self.buf.reserve(8 * 1024);
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

    // Parses a complete head at the front of the buffer and consumes it; Ok(None) if incomplete.
    fn parse_head(&mut self, kind: Kind) -> Result<Option<FrameHead>, FrameError> {
        let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let (start, raw, len) = match kind {
            Kind::Request => {
                let mut req = httparse::Request::new(&mut storage);
                let httparse::Status::Complete(len) = req.parse(&self.buf).map_err(parse_error)?
                else {
                    return Ok(None);
                };
                let start = StartLine::Request {
                    method: req.method.unwrap_or_default().to_string(),
                    path: req.path.unwrap_or_default().to_string(),
                };
                (start, to_headers(req.headers), len)
            }
            Kind::Response => {
                let mut res = httparse::Response::new(&mut storage);
                let httparse::Status::Complete(len) = res.parse(&self.buf).map_err(parse_error)?
                else {
                    return Ok(None);
                };
                let start = StartLine::Response {
                    status: res.code.unwrap_or_default(),
                    reason: res.reason.unwrap_or_default().to_string(),
                };
                (start, to_headers(res.headers), len)
            }
        };
        if len > self.limits.max_header_bytes {
            return Err(FrameError::HeaderTooLarge {
                limit: self.limits.max_header_bytes,
            });
        }
        let content_length = content_length(&raw, self.limits.max_message_bytes)?;
        self.buf.advance(len);
        Ok(Some(FrameHead {
            start,
            headers: raw,
            content_length,
        }))
    }
}

fn parse_error(err: httparse::Error) -> FrameError {
    match err {
        httparse::Error::TooManyHeaders => FrameError::TooManyHeaders,
        other => FrameError::Malformed(format!("not an HTTP/1.x message: {other}")),
    }
}

// Header values are Latin-1 in theory; Go passes any bytes through, so we replace what is not UTF-8
// rather than rejecting the frame.
fn to_headers(raw: &[httparse::Header<'_>]) -> Headers {
    let mut headers = Headers::with_capacity(raw.len());
    for h in raw {
        headers.append(h.name, String::from_utf8_lossy(h.value));
    }
    headers
}

// The body length, refusing chunked bodies and lengths over the limit before any body is read.
fn content_length(headers: &Headers, limit: usize) -> Result<usize, FrameError> {
    if let Some(te) = headers.get("Transfer-Encoding")
        && !te.trim().eq_ignore_ascii_case("identity")
    {
        return Err(FrameError::Unsupported(format!(
            "Transfer-Encoding: {te}; micro's transport needs a Content-Length"
        )));
    }
    let mut length: Option<u64> = None;
    for value in headers.get_all("Content-Length") {
        let value = value.trim();
        let parsed = value
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| value.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| FrameError::Malformed(format!("invalid Content-Length {value:?}")))?;
        if length.is_some_and(|l| l != parsed) {
            return Err(FrameError::Malformed(
                "conflicting Content-Length headers".into(),
            ));
        }
        length = Some(parsed);
    }
    let length = length.unwrap_or(0);
    match usize::try_from(length) {
        Ok(n) if n <= limit => Ok(n),
        _ => Err(FrameError::BodyTooLarge { length, limit }),
    }
}

/// Writes a request frame: `POST / HTTP/1.1`, `Host`, `Content-Length`, then `headers` in order,
/// then `body`, as go-micro's client writes them.
///
/// `Host`, `Content-Length` and `Transfer-Encoding` in `headers` are skipped (the frame sets them),
/// headers with invalid names are skipped, and CR/LF inside values become spaces, as Go's
/// `Header.Write` does, so metadata cannot inject headers.
pub fn encode_request(dst: &mut BytesMut, host: &str, headers: &Headers, body: &[u8]) {
    dst.reserve(64 + host.len() + encoded_len(headers) + body.len());
    dst.extend_from_slice(b"POST / HTTP/1.1\r\nHost: ");
    put_value(dst, host);
    dst.extend_from_slice(b"\r\n");
    put_rest(dst, headers, body);
}

/// Writes a response frame: `HTTP/1.1 <status> <reason>`, `Content-Length`, then `headers` in
/// order, then `body`. Headers are filtered as in [`encode_request`].
pub fn encode_response(dst: &mut BytesMut, status: u16, headers: &Headers, body: &[u8]) {
    dst.reserve(64 + encoded_len(headers) + body.len());
    dst.extend_from_slice(b"HTTP/1.1 ");
    // The status line allows three digits; larger values are not HTTP and are clamped.
    put_number(dst, usize::from(status.min(999)));
    dst.extend_from_slice(b" ");
    match reason(status) {
        "" => {
            // Go's `Response.Write` writes "status code N" when it knows no phrase.
            dst.extend_from_slice(b"status code ");
            put_number(dst, usize::from(status));
        }
        phrase => dst.extend_from_slice(phrase.as_bytes()),
    }
    dst.extend_from_slice(b"\r\n");
    put_rest(dst, headers, body);
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        411 => "Length Required",
        other => crate::error::status_text(i32::from(other)),
    }
}

fn put_rest(dst: &mut BytesMut, headers: &Headers, body: &[u8]) {
    dst.extend_from_slice(b"Content-Length: ");
    put_number(dst, body.len());
    dst.extend_from_slice(b"\r\n");
    for (name, value) in headers.iter() {
        if is_framing(name) {
            continue;
        }
        if !is_token(name) {
            tracing::warn!(header = name, "skipping a header with an invalid name");
            continue;
        }
        dst.extend_from_slice(name.as_bytes());
        dst.extend_from_slice(b": ");
        put_value(dst, value);
        dst.extend_from_slice(b"\r\n");
    }
    dst.extend_from_slice(b"\r\n");
    dst.extend_from_slice(body);
}

fn encoded_len(headers: &Headers) -> usize {
    headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum()
}

fn is_framing(name: &str) -> bool {
    ["Content-Length", "Transfer-Encoding", "Host"]
        .iter()
        .any(|f| name.eq_ignore_ascii_case(f))
}

// RFC 9110 token characters.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn put_value(dst: &mut BytesMut, value: &str) {
    if value.bytes().any(|b| b == b'\r' || b == b'\n') {
        dst.extend(
            value
                .bytes()
                .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
    } else {
        dst.extend_from_slice(value.as_bytes());
    }
}

// Decimal digits without going through `fmt` or allocating.
fn put_number(dst: &mut BytesMut, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    dst.extend_from_slice(&digits[i..]);
}
