//! Parsing one frame's head (start line and headers) with `httparse`.
//!
//! Two parsers share one `httparse` call: [`head`] collects every header, for frames whose
//! headers matter (a call's routing and metadata); [`lean`] keeps only what a stream's message
//! frames need (status, `Micro-Error`, body length), allocating nothing per header.

use std::mem::MaybeUninit;

use super::frame::{BodyLength, FrameHead, StartLine};
use super::{FrameError, Headers};

use super::MAX_HEADERS;

/// Which kind of message a head starts.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    Request,
    Response,
}

/// What [`lean`] keeps of a head.
pub(super) struct LeanHead {
    pub(super) status: u16,
    pub(super) error: Option<String>,
    pub(super) body: BodyLength,
}

// The start line, borrowed from the buffer.
enum Start<'a> {
    Request { method: &'a str, path: &'a str },
    Response { status: u16, reason: &'a str },
}

/// Parses a complete head at the front of `buf`: the head and its length in bytes, or `None`
/// while it is incomplete.
pub(super) fn head(
    buf: &[u8],
    kind: Kind,
    max_header_bytes: usize,
    max_body_bytes: usize,
) -> Result<Option<(FrameHead, usize)>, FrameError> {
    parsed(buf, kind, max_header_bytes, |start, version, raw| {
        let start = match start {
            Start::Request { method, path } => StartLine::Request {
                method: method.to_string(),
                path: path.to_string(),
            },
            Start::Response { status, reason } => StartLine::Response {
                status,
                reason: reason.to_string(),
            },
        };
        let body = body_length(raw, max_body_bytes)?;
        Ok(FrameHead {
            start,
            version,
            headers: to_headers(raw),
            body,
        })
    })
}

/// Parses a complete head at the front of `buf`, keeping only a stream frame's essentials.
pub(super) fn lean(
    buf: &[u8],
    kind: Kind,
    max_header_bytes: usize,
    max_body_bytes: usize,
) -> Result<Option<(LeanHead, usize)>, FrameError> {
    parsed(buf, kind, max_header_bytes, |start, _version, raw| {
        let status = match start {
            Start::Request { .. } => 200,
            Start::Response { status, .. } => status,
        };
        let body = body_length(raw, max_body_bytes)?;
        // go-micro's rule (see `Headers::get_micro`): the plain name wins unless it is empty.
        let find = |name: &str| raw.iter().find(|h| h.name.eq_ignore_ascii_case(name));
        let error = match find("Micro-Error") {
            Some(h) if !h.value.is_empty() => Some(h),
            plain => find("X-Micro-Error").or(plain),
        }
        .map(|h| String::from_utf8_lossy(h.value).into_owned());
        Ok(LeanHead {
            status,
            error,
            body,
        })
    })
}

// Runs httparse over `buf` and hands the parts of a complete head to `f`. The header array is
// left uninitialised (httparse fills what it uses), which saves clearing 2 KiB per frame.
fn parsed<T>(
    buf: &[u8],
    kind: Kind,
    max_header_bytes: usize,
    f: impl FnOnce(Start<'_>, u8, &[httparse::Header<'_>]) -> Result<T, FrameError>,
) -> Result<Option<(T, usize)>, FrameError> {
    let mut storage = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let (value, len) = match kind {
        Kind::Request => {
            let mut req = httparse::Request::new(&mut []);
            let httparse::Status::Complete(len) = req
                .parse_with_uninit_headers(buf, &mut storage)
                .map_err(parse_error)?
            else {
                return Ok(None);
            };
            check_size(len, max_header_bytes)?;
            let start = Start::Request {
                method: req.method.unwrap_or_default(),
                path: req.path.unwrap_or_default(),
            };
            (f(start, req.version.unwrap_or(1), req.headers)?, len)
        }
        Kind::Response => {
            let mut res = httparse::Response::new(&mut []);
            let httparse::Status::Complete(len) = httparse::ParserConfig::default()
                .parse_response_with_uninit_headers(&mut res, buf, &mut storage)
                .map_err(parse_error)?
            else {
                return Ok(None);
            };
            check_size(len, max_header_bytes)?;
            let start = Start::Response {
                status: res.code.unwrap_or_default(),
                reason: res.reason.unwrap_or_default(),
            };
            (f(start, res.version.unwrap_or(1), res.headers)?, len)
        }
    };
    Ok(Some((value, len)))
}

fn check_size(len: usize, limit: usize) -> Result<(), FrameError> {
    if len > limit {
        return Err(FrameError::HeaderTooLarge { limit });
    }
    Ok(())
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

// How the body is delimited (RFC 9112 §6.3), from every `Transfer-Encoding` and `Content-Length`
// header. A message with both is refused rather than framed by either: a front end that picks the
// other one would see a different request boundary (request smuggling). A fixed length over the
// limit is refused before any body byte is read; a chunked body is held to it as it is decoded.
fn body_length(raw: &[httparse::Header<'_>], limit: usize) -> Result<BodyLength, FrameError> {
    // One pass over the headers: this runs for every frame of a stream.
    let mut length: Option<u64> = None;
    let mut codings: Option<Vec<String>> = None;
    for h in raw {
        if h.name.eq_ignore_ascii_case("Content-Length") {
            let parsed = decimal(h.value).ok_or_else(|| {
                let value = String::from_utf8_lossy(h.value);
                FrameError::Malformed(format!("invalid Content-Length {:?}", value.trim()))
            })?;
            if length.is_some_and(|l| l != parsed) {
                return Err(FrameError::Malformed(
                    "conflicting Content-Length headers".into(),
                ));
            }
            length = Some(parsed);
        } else if h.name.eq_ignore_ascii_case("Transfer-Encoding") {
            let value = String::from_utf8_lossy(h.value);
            let list = codings.get_or_insert_with(Vec::new);
            list.extend(
                value
                    .split(',')
                    .map(|c| c.trim().to_ascii_lowercase())
                    .filter(|c| !c.is_empty()),
            );
        }
    }
    if let Some(codings) = codings {
        if length.is_some() {
            return Err(FrameError::Malformed(
                "both Transfer-Encoding and Content-Length: the body's length is ambiguous".into(),
            ));
        }
        return match codings.split_last() {
            Some((last, before)) if last == "chunked" => {
                if before.iter().any(|c| c == "chunked") {
                    Err(FrameError::Malformed(
                        "Transfer-Encoding applies chunked more than once".into(),
                    ))
                } else if let Some(other) = before.first() {
                    Err(FrameError::Unsupported(format!(
                        "Transfer-Encoding {other}: only chunked is decoded"
                    )))
                } else {
                    Ok(BodyLength::Chunked)
                }
            }
            _ => Err(FrameError::Malformed(format!(
                "Transfer-Encoding {:?} does not end in chunked, so the body's length is unknown",
                codings.join(", ")
            ))),
        };
    }
    let length = length.unwrap_or(0);
    match usize::try_from(length) {
        Ok(n) if n <= limit => Ok(BodyLength::Fixed(n)),
        _ => Err(FrameError::BodyTooLarge { length, limit }),
    }
}

/// A `Content-Length` value: ASCII digits, with optional spaces or tabs around them. Read from the
/// bytes directly, since it runs for every frame of a stream.
fn decimal(value: &[u8]) -> Option<u64> {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !blank(b))?;
    let end = value.iter().rposition(|b| !blank(b))? + 1;
    value[start..end].iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit()
            .then(|| n.checked_mul(10)?.checked_add(u64::from(b - b'0')))
            .flatten()
    })
}
