//! The two halves of a connection as the server and the client use them: micro's own HTTP framing
//! on TCP, or the [`Socket`](super::Socket) of any other [`Transport`](super::Transport).
//!
//! The built-in transport is served without dynamic dispatch: its halves are the frame reader and
//! writer themselves, so a unary call costs no boxed future per message, and a stream's messages
//! are encoded straight into the write buffer. Any other transport's halves are boxed trait
//! objects, and its messages are whole [`Message`]s. Everything above this module (connections,
//! streams, the pool) is written once against these two enums.

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::{
    Frame, FrameError, FrameReader, FrameTemplate, FrameWriter, Headers, Message, SocketReader,
    SocketWriter, StartLine, StreamFrame,
};

/// What a connection reads from.
pub(crate) enum ReadHalf {
    /// go-micro's HTTP frames on TCP.
    Http(FrameReader<OwnedReadHalf>),
    /// Another transport's messages.
    Socket(Box<dyn SocketReader>),
}

/// What a connection writes to.
pub(crate) enum WriteHalf {
    /// go-micro's HTTP frames on TCP, batched in one buffer.
    Http(FrameWriter<OwnedWriteHalf>),
    /// Another transport's messages, queued until the next flush.
    Socket {
        writer: Box<dyn SocketWriter>,
        queued: Vec<Message>,
        queued_bytes: usize,
    },
}

/// A message read from another transport, as the frame it stands for.
fn frame(message: Message, start: StartLine) -> Frame {
    Frame {
        start,
        headers: message.headers,
        body: message.body,
    }
}

impl ReadHalf {
    /// Reads up to `bytes` per syscall (HTTP only; a message socket reads whole messages).
    pub(crate) fn with_read_size(self, bytes: usize) -> Self {
        match self {
            ReadHalf::Http(reader) => ReadHalf::Http(reader.with_read_size(bytes)),
            other => other,
        }
    }

    /// The next request. `Ok(None)` is a clean end between messages.
    pub(crate) async fn read_request(&mut self) -> Result<Option<Frame>, FrameError> {
        match self {
            ReadHalf::Http(reader) => reader.read_request().await,
            ReadHalf::Socket(reader) => Ok(reader.recv().await?.map(|m| frame(m, post()))),
        }
    }

    /// The next reply. `Ok(None)` is a clean end between messages.
    pub(crate) async fn read_response(&mut self) -> Result<Option<Frame>, FrameError> {
        match self {
            ReadHalf::Http(reader) => reader.read_response().await,
            ReadHalf::Socket(reader) => Ok(reader.recv().await?.map(|m| frame(m, ok()))),
        }
    }

    /// The next message of a stream: requests from a caller when `requests`, else replies.
    pub(crate) async fn read_stream_frame(
        &mut self,
        requests: bool,
    ) -> Result<Option<StreamFrame>, FrameError> {
        match self {
            ReadHalf::Http(reader) => reader.read_stream_frame(requests).await,
            ReadHalf::Socket(reader) => Ok(reader.recv().await?.map(|message| StreamFrame {
                status: 200,
                error: message.headers.get_micro("Micro-Error").map(str::to_string),
                body: message.body,
            })),
        }
    }

    /// Whether an idle pooled connection can carry another call: the server has not closed it and
    /// (HTTP) sent nothing unasked.
    pub(crate) fn is_reusable(&self) -> bool {
        match self {
            ReadHalf::Http(reader) => super::http::is_open(reader),
            ReadHalf::Socket(reader) => reader.is_open(),
        }
    }
}

fn post() -> StartLine {
    StartLine::Request {
        method: "POST".into(),
        path: "/".into(),
    }
}

fn ok() -> StartLine {
    StartLine::Response {
        status: 200,
        reason: "OK".into(),
    }
}

impl WriteHalf {
    /// The halves of another transport's writer.
    pub(crate) fn socket(writer: Box<dyn SocketWriter>) -> Self {
        WriteHalf::Socket {
            writer,
            queued: Vec::new(),
            queued_bytes: 0,
        }
    }

    fn push(&mut self, headers: Headers, body: Bytes) {
        if let WriteHalf::Socket {
            queued,
            queued_bytes,
            ..
        } = self
        {
            *queued_bytes += body.len();
            queued.push(Message { headers, body });
        }
    }

    /// Queues a request to `host`.
    pub(crate) fn queue_request(&mut self, host: &str, headers: &Headers, body: &[u8]) {
        match self {
            WriteHalf::Http(writer) => writer.queue_request(host, headers, body),
            WriteHalf::Socket { .. } => self.push(headers.clone(), Bytes::copy_from_slice(body)),
        }
    }

    /// Queues a reply. A message socket has no status: go-micro carries errors in `Micro-Error`,
    /// and only HTTP refusals of broken frames use another status than 200.
    pub(crate) fn queue_response(&mut self, status: u16, headers: &Headers, body: &[u8]) {
        match self {
            WriteHalf::Http(writer) => writer.queue_response(status, headers, body),
            WriteHalf::Socket { .. } => self.push(headers.clone(), Bytes::copy_from_slice(body)),
        }
    }

    /// Queues one message of a stream with the template's headers, `write_body` appending its
    /// `len`-byte body.
    pub(crate) fn queue_templated(
        &mut self,
        template: &FrameTemplate,
        len: usize,
        write_body: impl FnOnce(&mut BytesMut),
    ) {
        match self {
            WriteHalf::Http(writer) => writer.queue_templated(template, len, write_body),
            WriteHalf::Socket { .. } => {
                let mut body = BytesMut::with_capacity(len);
                write_body(&mut body);
                self.push(template.headers().clone(), body.freeze());
            }
        }
    }

    /// Bytes queued and not yet written.
    pub(crate) fn buffered(&self) -> usize {
        match self {
            WriteHalf::Http(writer) => writer.buffered(),
            WriteHalf::Socket { queued_bytes, .. } => *queued_bytes,
        }
    }

    /// Writes everything queued.
    pub(crate) async fn flush(&mut self) -> std::io::Result<()> {
        match self {
            WriteHalf::Http(writer) => writer.flush().await,
            WriteHalf::Socket {
                writer,
                queued,
                queued_bytes,
            } => {
                *queued_bytes = 0;
                for message in queued.drain(..) {
                    writer.send(message).await?;
                }
                writer.flush().await
            }
        }
    }

    /// Drops this half so that the connection closes with a reset (TCP: `SO_LINGER` of zero, and
    /// no shutdown of the write side, whose FIN would come first) rather than a FIN, for a caller
    /// hanging up (see `hang_up.rs`). It closes once the read half is gone too. Another
    /// transport's socket is dropped as it is.
    pub(crate) fn reset(self) {
        if let WriteHalf::Http(writer) = self {
            let half = writer.into_inner();
            // A zero linger never blocks: the close discards what is unsent and resets at once.
            let _ =
                socket2::SockRef::from(half.as_ref()).set_linger(Some(std::time::Duration::ZERO));
            half.forget();
        }
    }

    /// Ends this direction (TCP: shuts down the write side).
    pub(crate) async fn shutdown(self) -> std::io::Result<()> {
        match self {
            WriteHalf::Http(writer) => writer.into_inner().shutdown().await,
            WriteHalf::Socket { mut writer, .. } => writer.close().await,
        }
    }
}
