//! The transport: the [`Transport`] trait, go-micro's HTTP/1.1 framing on raw TCP as its default
//! implementation ([`HttpTransport`]), and listening on port ranges.
//!
//! A [`Transport`] listens and dials; its [`Socket`]s carry whole [`Message`]s (headers and a
//! body), as go-micro's `transport.Transport` does, so a transport from another crate (in-process
//! channels, QUIC, a message bus) can carry micro's calls and streams unchanged.
//!
//! go-micro's default transport sends every RPC frame as a complete HTTP/1.1 message (`POST /`
//! requests, `HTTP/1.1 200 OK` responses, both with `Content-Length`) over a TCP connection that is
//! then used like a raw socket: frames are not paired, so streams can send many of each. This module
//! has the pieces both the client and the server build on.
//!
//! The stable surface is the trait and what a user configures or matches on: [`Transport`],
//! [`Listener`], [`Socket`], [`SocketReader`], [`SocketWriter`], [`Message`] and [`Headers`];
//! [`Limits`] (what a peer can make a connection hold), [`FrameError`] and [`MAX_HEADERS`], and
//! [`listen`] / [`advertise_address`]
//! (`host:port` or the first free port of `host:min-max`, and the address to register). The
//! framing pieces (`FrameReader`, `FrameWriter`, `FrameTemplate`, `BodyBudget`, ...)
//! stay public for micro's own tests, fuzz targets and tools, but are hidden from the docs and are
//! not a stable API.
//!
//! Inside: `socket` holds the traits and `http` the default transport's implementation of them;
//! `frame` reads frames (`Content-Length` or chunked bodies) and `encode` writes them;
//! `budget` bounds the bytes of bodies still arriving across a server's connections;
//! `server_conn` and `accept` are the one connection core every listener serves with, within
//! [`Limits`]; `pool` is the one client connection and pool, for RPC calls and the HTTP broker's
//! deliveries alike; `writer` batches encoded frames into few writes; `halves` lets all of these
//! read and write either HTTP frames directly or another transport's socket.

pub(crate) mod accept;
mod budget;
mod chunked;
mod encode;
#[doc(hidden)]
pub mod frame;
pub(crate) mod halves;
pub(crate) mod hang_up;
mod headers;
mod http;
pub mod listener;
mod parse;
pub(crate) mod pool;
pub(crate) mod server_conn;
mod socket;
#[doc(hidden)]
pub mod writer;

use std::{fmt, io};

/// The most headers a frame may carry: they are parsed into a stack array of this size, and a
/// frame with more is refused with [`FrameError::TooManyHeaders`] (431).
pub const MAX_HEADERS: usize = 64;

#[doc(hidden)]
pub use budget::BodyBudget;
#[doc(hidden)]
pub use encode::FrameTemplate;
pub use frame::Limits;
#[doc(hidden)]
pub use frame::{
    BodyLength, CONTINUE, Frame, FrameHead, FrameReader, STREAM_READ_BYTES, StartLine, StreamFrame,
    encode_request, encode_response,
};
pub use headers::Headers;
pub use http::HttpTransport;
pub(crate) use http::is_http;
pub use listener::{advertise_address, listen};
pub use socket::{Listener, Message, Socket, SocketReader, SocketWriter, Transport};
#[doc(hidden)]
pub use writer::FrameWriter;

/// Why a frame could not be read.
///
/// A server that gets one of these answers with [`FrameError::status`] (where the connection
/// still works) and closes the connection: after a framing error the byte stream cannot be trusted.
#[derive(Debug)]
#[non_exhaustive]
pub enum FrameError {
    /// The socket failed.
    Io(io::Error),
    /// The stream ended inside a frame (a clean end between frames is `Ok(None)`, not an error).
    UnexpectedEof,
    /// The bytes are not an HTTP/1.x message, or a header such as `Content-Length` is invalid.
    Malformed(String),
    /// The header section grew past [`Limits::max_header_bytes`] without completing.
    HeaderTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// More than [`MAX_HEADERS`] headers.
    TooManyHeaders,
    /// `Content-Length` is over [`Limits::max_message_bytes`]; the body was not read.
    BodyTooLarge {
        /// The announced body length.
        length: u64,
        /// The limit in bytes.
        limit: usize,
    },
    /// The header section did not arrive within [`Limits::header_read_timeout`].
    HeaderTimeout,
    /// A body went longer than [`Limits::body_progress_timeout`] without a new byte.
    BodyTimeout {
        /// The timeout that passed.
        after: std::time::Duration,
    },
    /// The server's [`BodyBudget`] had no room for this body within the body progress timeout:
    /// too many bodies are arriving at once. Try again later.
    Busy,
    /// A valid HTTP feature micro's transport does not speak, such as a `Transfer-Encoding` other
    /// than chunked.
    Unsupported(String),
}

impl FrameError {
    /// The HTTP status a server should answer with: 400 malformed, 408 header or body timeout,
    /// 413 body too large, 431 headers too large, 501 unsupported, 503 busy.
    pub fn status(&self) -> u16 {
        match self {
            FrameError::Io(_) | FrameError::UnexpectedEof | FrameError::Malformed(_) => 400,
            FrameError::HeaderTimeout | FrameError::BodyTimeout { .. } => 408,
            FrameError::Busy => 503,
            FrameError::BodyTooLarge { .. } => 413,
            FrameError::HeaderTooLarge { .. } | FrameError::TooManyHeaders => 431,
            FrameError::Unsupported(_) => 501,
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Io(err) => write!(f, "transport i/o error: {err}"),
            FrameError::UnexpectedEof => f.write_str("connection closed in the middle of a frame"),
            FrameError::Malformed(why) => write!(f, "malformed frame: {why}"),
            FrameError::HeaderTooLarge { limit } => {
                write!(f, "frame header section larger than {limit} bytes")
            }
            FrameError::TooManyHeaders => write!(f, "frame has more than {MAX_HEADERS} headers"),
            FrameError::BodyTooLarge { length, limit } => {
                write!(
                    f,
                    "frame body of {length} bytes exceeds the limit of {limit} bytes"
                )
            }
            FrameError::HeaderTimeout => f.write_str("timed out reading a frame's headers"),
            FrameError::BodyTimeout { after } => {
                write!(f, "no byte of the frame's body arrived for {after:?}")
            }
            FrameError::Busy => {
                f.write_str("the server is holding too many incomplete bodies; try again later")
            }
            FrameError::Unsupported(what) => write!(f, "unsupported frame: {what}"),
        }
    }
}

impl std::error::Error for FrameError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FrameError::Io(err) => Some(err),
            _ => None,
        }
    }
}

impl From<io::Error> for FrameError {
    fn from(err: io::Error) -> Self {
        FrameError::Io(err)
    }
}
