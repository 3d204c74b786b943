//! Writing frames: the start line, `Content-Length`, the headers, the body.
//!
//! [`encode_request`] and [`encode_response`] write one frame. A stream sends many frames with the
//! same headers, so [`FrameTemplate`] renders its start line and headers once and then costs one
//! copy per frame; only `Content-Length` and the body change.

use bytes::{BufMut, Bytes, BytesMut};

use super::Headers;

/// Writes a request frame: `POST / HTTP/1.1`, `Host`, `Content-Length`, then `headers` in order,
/// then `body`, as go-micro's client writes them.
///
/// `Host`, `Content-Length` and `Transfer-Encoding` in `headers` are skipped (the frame sets them),
/// headers with invalid names are skipped, and control characters inside values (CR, LF, ...)
/// become spaces, as Go's `Header.Write` does for CR and LF, so metadata cannot inject headers.
pub fn encode_request(dst: &mut BytesMut, host: &str, headers: &Headers, body: &[u8]) {
    dst.reserve(64 + host.len() + encoded_len(headers) + body.len());
    put_request_line(dst, host);
    put_content_length(dst, body.len());
    put_headers(dst, headers);
    dst.extend_from_slice(b"\r\n");
    dst.extend_from_slice(body);
}

/// Writes a response frame: `HTTP/1.1 <status> <reason>`, `Content-Length`, then `headers` in
/// order, then `body`. Headers are filtered as in [`encode_request`].
pub fn encode_response(dst: &mut BytesMut, status: u16, headers: &Headers, body: &[u8]) {
    dst.reserve(64 + encoded_len(headers) + body.len());
    put_status_line(dst, status);
    put_content_length(dst, body.len());
    put_headers(dst, headers);
    dst.extend_from_slice(b"\r\n");
    dst.extend_from_slice(body);
}

/// The start line and headers shared by every frame of one stream, rendered once.
///
/// ```
/// use bytes::BytesMut;
/// use micro_runtime::transport::{FrameTemplate, Headers, encode_response};
///
/// let mut headers = Headers::new();
/// headers.insert("Micro-Id", "7");
/// let template = FrameTemplate::response(200, &headers);
/// let (mut a, mut b) = (BytesMut::new(), BytesMut::new());
/// template.encode(&mut a, b"hi");
/// encode_response(&mut b, 200, &headers, b"hi");
/// assert_eq!(a, b);
/// ```
#[derive(Clone, Debug)]
pub struct FrameTemplate {
    // The start line, then `Content-Length: ` waiting for its digits.
    start: Bytes,
    // `\r\n`, the other headers, and the blank line that ends the header section.
    rest: Bytes,
    // The headers themselves, for transports that send messages rather than bytes.
    headers: Headers,
}

impl FrameTemplate {
    /// Request frames (`POST /`) to `host` with `headers`.
    pub fn request(host: &str, headers: &Headers) -> Self {
        let mut start = BytesMut::new();
        put_request_line(&mut start, host);
        Self::finish(start, headers)
    }

    /// Response frames with `status` and `headers`.
    pub fn response(status: u16, headers: &Headers) -> Self {
        let mut start = BytesMut::new();
        put_status_line(&mut start, status);
        Self::finish(start, headers)
    }

    fn finish(mut start: BytesMut, headers: &Headers) -> Self {
        start.extend_from_slice(b"Content-Length: ");
        let mut rest = BytesMut::with_capacity(encoded_len(headers) + 4);
        rest.extend_from_slice(b"\r\n");
        put_headers(&mut rest, headers);
        rest.extend_from_slice(b"\r\n");
        Self {
            start: start.freeze(),
            rest: rest.freeze(),
            headers: headers.clone(),
        }
    }

    /// The headers every frame of the template carries.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// Appends one frame carrying `body`.
    pub fn encode(&self, dst: &mut BytesMut, body: &[u8]) {
        self.encode_with(dst, body.len(), |dst| dst.extend_from_slice(body));
    }

    /// Appends one frame whose body of `len` bytes `write_body` appends, so a message can be
    /// encoded straight into the output buffer.
    pub fn encode_with(
        &self,
        dst: &mut BytesMut,
        len: usize,
        write_body: impl FnOnce(&mut BytesMut),
    ) {
        dst.reserve(self.start.len() + 20 + self.rest.len() + len);
        dst.extend_from_slice(&self.start);
        put_number(dst, len);
        dst.extend_from_slice(&self.rest);
        let before = dst.len();
        write_body(dst);
        debug_assert_eq!(
            dst.len() - before,
            len,
            "body length differs from Content-Length"
        );
    }
}

fn put_request_line(dst: &mut BytesMut, host: &str) {
    dst.extend_from_slice(b"POST / HTTP/1.1\r\nHost: ");
    put_value(dst, host);
    dst.extend_from_slice(b"\r\n");
}

fn put_status_line(dst: &mut BytesMut, status: u16) {
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
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        411 => "Length Required",
        other => crate::error::status_text(i32::from(other)),
    }
}

fn put_content_length(dst: &mut BytesMut, len: usize) {
    dst.extend_from_slice(b"Content-Length: ");
    put_number(dst, len);
    dst.extend_from_slice(b"\r\n");
}

fn put_headers(dst: &mut BytesMut, headers: &Headers) {
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

/// Writes a header value; control characters (CR and LF above all, but every one a peer's parser
/// refuses: NUL to US except TAB, and DEL) become spaces, as Go's `Header.Write` does for CR and
/// LF, so no value can inject a header or make the frame unreadable.
fn put_value(dst: &mut BytesMut, value: &str) {
    let control = |b: u8| (b < 0x20 && b != b'\t') || b == 0x7f;
    if value.bytes().any(control) {
        dst.extend(value.bytes().map(|b| if control(b) { b' ' } else { b }));
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
    dst.put_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_in_values_become_spaces_and_the_frame_parses() {
        let mut headers = Headers::new();
        headers.insert("Micro-Endpoint", "a\u{1}b\u{7f}c\r\nEvil: 1\td\u{e9}");
        let mut frame = BytesMut::new();
        encode_request(&mut frame, "node", &headers, b"{}");
        let mut parsed = [httparse::EMPTY_HEADER; 8];
        let mut request = httparse::Request::new(&mut parsed);
        assert!(request.parse(&frame).unwrap().is_complete());
        let value = request
            .headers
            .iter()
            .find(|h| h.name == "Micro-Endpoint")
            .unwrap()
            .value;
        assert_eq!(value, "a b c  Evil: 1\td\u{e9}".as_bytes());
        assert!(!request.headers.iter().any(|h| h.name == "Evil"));
    }
}
