//! The chunked transfer coding (RFC 9112 §7.1), decoded as bytes arrive.
//!
//! go-micro's client sends every empty body chunked: Go's `net/http` does so for a request body of
//! `ContentLength 0` (go-micro `transport/http_client.go`), so an all-defaults protobuf request, the
//! init frame of every protobuf stream and the `EOS` frame that closes a stream all arrive as
//! `Transfer-Encoding: chunked` with the body `0\r\n\r\n`. hyper's decoder is private to hyper and
//! works on its own connection types; our frames are HTTP messages on a hijacked socket (see
//! `frame.rs`), so this small state machine decodes them over the reader's own buffer instead.
//!
//! Strict where laxness lets requests be smuggled: sizes are 1–16 hex digits, lines end in CRLF,
//! chunk data is followed by CRLF. Extensions are skipped, trailers read and ignored, and the
//! decoded total is held to the message size limit before its bytes are read.

use bytes::{Buf, BytesMut};

use super::FrameError;

/// Longest chunk-size line accepted, extensions included (Go's limit is 4 KiB too).
const MAX_LINE: usize = 4096;

/// Where the decoder is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk's data, with this many bytes to go.
    Data(usize),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines until an empty one.
    Trailers,
    /// The body is complete.
    Done,
}

/// A chunked body being decoded.
#[derive(Debug)]
pub(super) struct Chunked {
    state: State,
    body: BytesMut,
    limit: usize,
    max_trailer_bytes: usize,
    trailer_bytes: usize,
}

impl Chunked {
    /// A decoder for a body of at most `limit` decoded bytes, whose trailer section may be at most
    /// `max_trailer_bytes`.
    pub(super) fn new(limit: usize, max_trailer_bytes: usize) -> Self {
        Self {
            state: State::Size,
            body: BytesMut::new(),
            limit,
            max_trailer_bytes,
            trailer_bytes: 0,
        }
    }

    /// Decodes what it can from the front of `buf`, consuming those bytes. `Ok(true)` once the body
    /// is complete; `Ok(false)` when more bytes are needed.
    pub(super) fn decode(&mut self, buf: &mut BytesMut) -> Result<bool, FrameError> {
        loop {
            match self.state {
                State::Size => {
                    let Some(line) = take_line(buf, MAX_LINE, "chunk size line")? else {
                        return Ok(false);
                    };
                    let size = chunk_size(&line)?;
                    let total = (self.body.len() as u64).saturating_add(size);
                    if total > self.limit as u64 {
                        return Err(FrameError::BodyTooLarge {
                            length: total,
                            limit: self.limit,
                        });
                    }
                    // Checked against the limit just above, so it fits.
                    let size = size as usize;
                    self.state = if size == 0 {
                        State::Trailers
                    } else {
                        State::Data(size)
                    };
                }
                State::Data(left) => {
                    if buf.is_empty() {
                        return Ok(false);
                    }
                    let n = left.min(buf.len());
                    // Room grows with the bytes that arrive, never with the announced size.
                    self.body.extend_from_slice(&buf[..n]);
                    buf.advance(n);
                    self.state = if n == left {
                        State::DataEnd
                    } else {
                        State::Data(left - n)
                    };
                }
                State::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(false);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(malformed("chunk data not followed by CRLF"));
                    }
                    buf.advance(2);
                    self.state = State::Size;
                }
                State::Trailers => {
                    let room = self.max_trailer_bytes.saturating_sub(self.trailer_bytes);
                    let Some(line) = take_line(buf, room, "trailer section")? else {
                        return Ok(false);
                    };
                    self.trailer_bytes += line.len() + 2;
                    if line.is_empty() {
                        self.state = State::Done;
                    }
                }
                State::Done => return Ok(true),
            }
        }
    }

    /// Bytes this decoder holds: the decoded body so far.
    pub(super) fn held(&self) -> usize {
        self.body.capacity()
    }

    /// The decoded body. Only meaningful once [`Self::decode`] returned `Ok(true)`.
    pub(super) fn into_body(self) -> BytesMut {
        self.body
    }
}

/// Takes one CRLF-terminated line off the front of `buf` (without the CRLF), or `None` while it is
/// incomplete. A line longer than `max`, or a bare LF, is malformed.
fn take_line(buf: &mut BytesMut, max: usize, what: &str) -> Result<Option<BytesMut>, FrameError> {
    let window = &buf[..buf.len().min(max.saturating_add(2))];
    match window.iter().position(|&b| b == b'\n') {
        Some(0) => Err(malformed("bare LF in chunked body")),
        Some(i) if window[i - 1] != b'\r' => Err(malformed("bare LF in chunked body")),
        Some(i) => {
            let mut line = buf.split_to(i + 1);
            line.truncate(i - 1);
            Ok(Some(line))
        }
        None if buf.len() > max.saturating_add(1) => Err(malformed(&format!("{what} too long"))),
        None => Ok(None),
    }
}

/// The size on a chunk-size line: hex digits, then optional whitespace and `;extensions`.
fn chunk_size(line: &[u8]) -> Result<u64, FrameError> {
    let digits = line
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(line.len());
    let rest = &line[digits..];
    let rest_ok = rest.is_empty()
        || rest
            .iter()
            .position(|&b| b != b' ' && b != b'\t')
            .is_some_and(|i| rest[i] == b';');
    if digits == 0 || digits > 16 || !rest_ok {
        let shown = String::from_utf8_lossy(&line[..line.len().min(32)]).into_owned();
        return Err(malformed(&format!("invalid chunk size line {shown:?}")));
    }
    // At most 16 hex digits fit in a u64.
    let hex = std::str::from_utf8(&line[..digits]).unwrap_or("0");
    u64::from_str_radix(hex, 16).map_err(|_| malformed("invalid chunk size"))
}

fn malformed(why: &str) -> FrameError {
    FrameError::Malformed(why.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(wire: &[u8], limit: usize) -> Result<(Vec<u8>, usize), FrameError> {
        let mut buf = BytesMut::from(wire);
        let mut chunked = Chunked::new(limit, 1024);
        if !chunked.decode(&mut buf)? {
            return Err(FrameError::UnexpectedEof);
        }
        Ok((chunked.into_body().to_vec(), buf.len()))
    }

    #[test]
    fn decodes_go_micros_empty_body_and_leaves_what_follows() {
        assert_eq!(decode_all(b"0\r\n\r\nPOST", 10).unwrap(), (vec![], 4));
    }

    #[test]
    fn decodes_chunks_with_extensions_and_trailers() {
        let wire = b"4;name=value\r\nWiki\r\n5 ; x\r\npedia\r\nD\r\n in\r\n\r\nchunks\r\n0\r\nX-T: 1\r\n\r\n";
        let (body, left) = decode_all(wire, 100).unwrap();
        assert_eq!(body, b"Wikipedia in\r\n\r\nchunks");
        assert_eq!(left, 0);
    }

    #[test]
    fn decodes_split_at_every_byte() {
        let wire = b"3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n";
        for split in 0..wire.len() {
            let mut chunked = Chunked::new(100, 1024);
            let mut buf = BytesMut::new();
            let mut done = false;
            for piece in [&wire[..split], &wire[split..]] {
                for byte in piece {
                    buf.extend_from_slice(&[*byte]);
                    done = chunked.decode(&mut buf).unwrap();
                }
            }
            assert!(done, "split at {split}");
            assert_eq!(&chunked.into_body()[..], b"abc0123456789abcdef");
        }
    }

    #[test]
    fn refuses_what_could_smuggle_or_overflow() {
        let bad: &[&[u8]] = &[
            b"x\r\n",                 // not hex
            b"-1\r\n",                // sign
            b"0x5\r\n",               // prefix
            b"5 5\r\n",               // junk after the size
            b"3\nabc\r\n",            // bare LF
            b"3\r\nabcX\r\n",         // data longer than its size
            b"11111111111111111\r\n", // 17 digits
        ];
        for wire in bad {
            let err = decode_all(wire, usize::MAX).unwrap_err();
            assert!(matches!(err, FrameError::Malformed(_)), "{wire:?}: {err}");
        }
    }

    #[test]
    fn holds_the_decoded_total_to_the_limit_before_reading_it() {
        let err = decode_all(b"8\r\n", 7).unwrap_err();
        assert!(matches!(
            err,
            FrameError::BodyTooLarge {
                length: 8,
                limit: 7
            }
        ));
        let err = decode_all(b"4\r\nabcd\r\n4\r\n", 7).unwrap_err();
        assert!(matches!(
            err,
            FrameError::BodyTooLarge {
                length: 8,
                limit: 7
            }
        ));
        let err = decode_all(b"1\r\na\r\nffffffffffffffff\r\n", 1 << 30).unwrap_err();
        assert!(matches!(err, FrameError::BodyTooLarge { .. }), "{err}");
    }

    #[test]
    fn bounds_lines_and_trailers() {
        let long = [b'0'; 5000];
        let err = decode_all(&long, 10).unwrap_err();
        assert!(err.to_string().contains("too long"), "{err}");
        let mut trailers = b"0\r\n".to_vec();
        trailers.extend(std::iter::repeat_n(b"X-A: 1\r\n".as_slice(), 200).flatten());
        trailers.extend_from_slice(b"\r\n");
        let err = decode_all(&trailers, 10).unwrap_err();
        assert!(err.to_string().contains("trailer"), "{err}");
    }
}
