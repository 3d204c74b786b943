//! A caller's [`Receiver`](super::Receiver) of a server's stream, read straight off the connection.
//!
//! Each message is one response frame; the server ends the stream with an empty frame carrying
//! `Micro-Error: EOS` after success, or the error. The read in progress lives in a
//! [`ReusableBoxFuture`] that owns the frame reader, so the receiver can be polled as a
//! `Stream` and a stream of many messages allocates that future once.

use std::any::Any;
use std::marker::PhantomData;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::time::Instant;
use tokio_util::sync::ReusableBoxFuture;

use crate::codec::{ContentType, Message};
use crate::error::{CLIENT_ID, Error};
use crate::transport::halves::ReadHalf as Reader;
use crate::transport::hang_up::HangUp;
use crate::transport::{FrameError, StreamFrame};

/// What one read gave.
enum Read {
    Frame(Result<Option<StreamFrame>, FrameError>),
    /// The call's deadline passed first.
    Deadline,
}

/// The server's side of a stream, as its caller reads it.
pub(crate) struct Remote<T> {
    read: ReusableBoxFuture<'static, (Reader, Read)>,
    content_type: ContentType,
    deadline: Option<Instant>,
    done: bool,
    /// The server's end (`EOS` or an error) was read, or the reply a client stream waits for:
    /// dropping the stream now is not leaving it.
    ended: bool,
    /// Raised when the stream is dropped before it ended, so the connection closes with a reset.
    hang_up: HangUp,
    /// Keeps the caller's direction open while this lives: the write half itself (a
    /// server-streaming call) or the writer task's hold (client and bidi streams). Dropped with
    /// the stream unended, it tells the server the caller hung up.
    _keep: Box<dyn Any + Send + Sync>,
    _message: PhantomData<fn() -> T>,
}

impl<T: Message> Remote<T> {
    pub(crate) fn new(
        reader: Reader,
        content_type: ContentType,
        deadline: Option<Instant>,
        keep: Box<dyn Any + Send + Sync>,
        hang_up: HangUp,
    ) -> Self {
        Self {
            read: ReusableBoxFuture::new(read_frame(reader, deadline)),
            content_type,
            deadline,
            done: false,
            ended: false,
            hang_up,
            _keep: keep,
            _message: PhantomData,
        }
    }

    /// The next message, as [`Receiver::recv`](super::Receiver::recv) documents.
    ///
    /// Past the call's deadline (its timeout or deadline option) it fails with a 408, whatever
    /// the server does. This matters against go-micro servers: after a bidirectional stream's
    /// client closes its side first, a go-micro server sends no `EOS` (its router returns without
    /// one), so without a deadline the read would wait until the server drops the connection.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<T>, Error>> {
        if self.done {
            return Poll::Ready(Ok(None));
        }
        let (reader, read) = ready!(self.read.poll(cx));
        // The next read starts when the caller next polls.
        self.read.set(read_frame(reader, self.deadline));
        Poll::Ready(self.message(read))
    }

    fn message(&mut self, read: Read) -> Result<Option<T>, Error> {
        let frame = match read {
            Read::Frame(Ok(Some(frame))) => frame,
            Read::Deadline => {
                // A frame half-read when the deadline passed leaves the stream unusable.
                self.done = true;
                return Err(
                    Error::timeout("stream deadline exceeded: the call's timeout passed")
                        .with_id(CLIENT_ID),
                );
            }
            Read::Frame(Ok(None)) => {
                self.done = true;
                return Err(transport_error(
                    "the server closed the stream without ending it",
                ));
            }
            Read::Frame(Err(e)) => {
                self.done = true;
                return Err(transport_error(format!("broken stream: {e}")));
            }
        };
        if frame.error.as_deref() == Some("EOS") {
            self.done = true;
            self.ended = true;
            return Ok(None);
        }
        match reply_body(frame.status, frame.error.as_deref(), frame.body) {
            Ok(body) => self.content_type.decode(body).map(Some).map_err(|err| {
                // A message that does not decode: the caller's codec failed, not the server.
                err.with_id("go.micro.client.codec")
            }),
            Err(err) => {
                self.done = true;
                self.ended = true;
                Err(err)
            }
        }
    }
}

impl<T> Remote<T> {
    /// The answer the caller waited for has come (a client stream's one reply): the server is
    /// done, so dropping the stream before its `EOS` is read does not hang up.
    pub(crate) fn answered(&mut self) {
        self.ended = true;
    }
}

impl<T> Drop for Remote<T> {
    fn drop(&mut self) {
        if !self.ended {
            self.hang_up.left();
        }
    }
}

async fn read_frame(mut reader: Reader, deadline: Option<Instant>) -> (Reader, Read) {
    let read = match deadline {
        None => Read::Frame(reader.read_stream_frame(false).await),
        Some(deadline) => {
            match tokio::time::timeout_at(deadline, reader.read_stream_frame(false)).await {
                Ok(read) => Read::Frame(read),
                Err(_) => Read::Deadline,
            }
        }
    };
    (reader, read)
}

/// A reply frame's body, or the error it carries: `Micro-Error` (go-micro answers errors with a
/// 200), else any status but 200, as go-micro's transport reports it. Shared by unary replies and
/// stream messages.
pub(crate) fn reply_body(status: u16, error: Option<&str>, body: Bytes) -> Result<Bytes, Error> {
    if let Some(err) = error {
        return Err(Error::parse(err));
    }
    if status != 200 {
        return Err(transport_error(format!(
            "{status}: {}",
            String::from_utf8_lossy(&body)
        )));
    }
    Ok(body)
}

fn transport_error(detail: impl Into<String>) -> Error {
    Error::internal_server_error(detail).with_id("go.micro.client.transport")
}
