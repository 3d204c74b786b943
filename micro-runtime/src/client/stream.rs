//! Client streams: one dedicated connection per stream, as go-micro.
//!
//! Opening a stream sends go-micro's init frame (the endpoint headers, `Micro-Stream`, an empty
//! body). Messages go one frame each; [`Sender::close`] sends `Micro-Error: EOS` and keeps the
//! connection open for the answer: a client-streaming caller finishes sending and then reads
//! the reply, which go-micro cannot do (its `CloseSend` is missing).
//!
//! A caller gets the same [`Sender`] and [`Receiver`] a handler does.

use tokio::time::Instant;

use super::Inner;
use super::attempt::request_headers;
use super::call::AttemptInfo;
use super::request::AttemptError;
use super::sender::{Frames, Writer, broken, spawn_writer};
use crate::codec::{ContentType, Message};
use crate::error::{CLIENT_ID, Error};
use crate::registry::Node;
use crate::stream::remote::Remote;
use crate::stream::{Receiver, Sender};
use crate::transport::pool::ClientConn;
use crate::transport::{FrameReader, FrameTemplate, STREAM_READ_BYTES};

/// A client-streaming call: send messages, then [`close_and_recv`](Self::close_and_recv).
pub struct ClientStreaming<Req, Rsp> {
    // The receiver first: dropping the whole call drops it before the sender, which makes the
    // writer hang up rather than half-close (see `sender.rs`).
    receiver: Receiver<Rsp>,
    sender: Sender<Req>,
}

/// A bidirectional stream: send and receive, or [`split`](Self::split) to do both at once.
pub struct BidiStream<Req, Rsp> {
    receiver: Receiver<Rsp>,
    sender: Sender<Req>,
}

/// A stream's connection once the init frame is sent.
pub(crate) struct Opened {
    writer: Writer,
    reader: FrameReader<tokio::net::tcp::OwnedReadHalf>,
    frames: Frames,
    host: String,
    deadline: Option<Instant>,
}

/// Opens a stream on the attempt's node: dials, and sends the init frame. A failure is
/// [`AttemptError::unsent`]: no handler has run, so the call goes on to another node.
pub(super) async fn open_on(
    client: &Inner,
    node: &Node,
    attempt: &AttemptInfo<'_>,
) -> Result<Opened, AttemptError> {
    let conn = ClientConn::dial(
        &node.address,
        client.options.dial_timeout,
        &client.options.limits,
    )
    .await
    .map_err(|e| {
        AttemptError::unsent(
            Error::internal_server_error(format!("connection error: {}: {e}", node.address))
                .with_id(CLIENT_ID),
        )
    })?;
    let mut headers = request_headers(
        client,
        attempt.service,
        attempt.endpoint,
        attempt.content_type,
        attempt.metadata,
        attempt.deadline,
    )
    .map_err(AttemptError::answered)?;
    let id = headers.get("Micro-Id").unwrap_or("0").to_string();
    headers.insert("Micro-Stream", id);
    let mut writer = conn.writer;
    writer.queue_request(&node.address, &headers, b"");
    writer
        .flush()
        .await
        .map_err(|e| AttemptError::unsent(broken(&node.address, &e.to_string())))?;
    // Later frames need no deadline: the server took it from the init frame.
    headers.remove("Timeout");
    let message = FrameTemplate::request(&node.address, &headers);
    headers.remove("Content-Type");
    headers.insert("Micro-Error", "EOS");
    Ok(Opened {
        writer,
        reader: conn.reader.with_read_size(STREAM_READ_BYTES),
        frames: Frames {
            message,
            eos: FrameTemplate::request(&node.address, &headers),
            content_type: attempt.content_type,
        },
        host: node.address.clone(),
        deadline: attempt.deadline,
    })
}

impl Opened {
    /// A server stream: writes the one request, then the replies can be read. The receiver holds
    /// the write half, so dropping it hangs up.
    pub(super) async fn server_stream<Req: Message, Rsp: Message>(
        mut self,
        request: &Req,
    ) -> Result<Receiver<Rsp>, Error> {
        let ct = self.frames.content_type;
        ct.queue_frame(&mut self.writer, &self.frames.message, request)?;
        let flush = self.writer.flush();
        let flushed = match self.deadline {
            None => flush.await,
            Some(deadline) => tokio::time::timeout_at(deadline, flush)
                .await
                .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into())),
        };
        flushed.map_err(|e| broken(&self.host, &e.to_string()))?;
        Ok(Receiver::from_remote(Remote::new(
            self.reader,
            ct,
            self.deadline,
            Box::new(self.writer),
        )))
    }

    /// Both directions: a writer task behind the sender, the connection behind the receiver.
    pub(super) fn both<Req: Message, Rsp: Message>(self) -> (Sender<Req>, Receiver<Rsp>) {
        let content_type: ContentType = self.frames.content_type;
        let (sender, hold) = spawn_writer(self.writer, self.frames, self.host, self.deadline);
        let receiver = Receiver::from_remote(Remote::new(
            self.reader,
            content_type,
            self.deadline,
            Box::new(hold),
        ));
        (sender, receiver)
    }
}

impl<Req: Message, Rsp: Message> ClientStreaming<Req, Rsp> {
    pub(super) fn new((sender, receiver): (Sender<Req>, Receiver<Rsp>)) -> Self {
        Self { receiver, sender }
    }

    /// Sends one message.
    pub async fn send(&self, message: Req) -> Result<(), Error> {
        self.sender.send(message).await
    }

    /// The sending half, to send from other tasks (clone it) or as a `Sink`.
    pub fn sender(&self) -> &Sender<Req> {
        &self.sender
    }

    /// Ends the requests and waits for the server's single reply.
    pub async fn close_and_recv(mut self) -> Result<Rsp, Error> {
        self.sender.close().await?;
        self.receiver.recv().await?.ok_or_else(|| {
            Error::internal_server_error("the server ended the stream without a reply")
                .with_id(CLIENT_ID)
        })
    }
}

impl<Req: Message, Rsp: Message> BidiStream<Req, Rsp> {
    pub(super) fn new((sender, receiver): (Sender<Req>, Receiver<Rsp>)) -> Self {
        Self { receiver, sender }
    }

    /// Sends one message.
    pub async fn send(&self, message: Req) -> Result<(), Error> {
        self.sender.send(message).await
    }

    /// Ends this direction; replies can still be read.
    pub async fn close_send(&self) -> Result<(), Error> {
        self.sender.close().await
    }

    /// The next reply; `Ok(None)` once the server has ended the stream.
    pub async fn recv(&mut self) -> Result<Option<Rsp>, Error> {
        self.receiver.recv().await
    }

    /// The two directions, to send and receive from different tasks.
    pub fn split(self) -> (Sender<Req>, Receiver<Rsp>) {
        (self.sender, self.receiver)
    }
}

/// Relays a remote server stream into a handler's sender (a client standing in for a handler).
pub async fn forward_server_stream<T: Message>(
    mut from: Receiver<T>,
    to: Sender<T>,
) -> Result<(), Error> {
    while let Some(message) = from.recv().await? {
        to.send(message).await?;
    }
    Ok(())
}

/// Relays a handler's incoming stream to a remote client-streaming call, and returns its reply.
pub async fn forward_client_stream<Req: Message, Rsp: Message>(
    mut from: Receiver<Req>,
    to: ClientStreaming<Req, Rsp>,
) -> Result<Rsp, Error> {
    while let Some(message) = from.recv().await? {
        to.send(message).await?;
    }
    to.close_and_recv().await
}

/// Relays both directions between a handler's streams and a remote bidirectional stream.
pub async fn forward_bidi_stream<Req: Message, Rsp: Message>(
    mut from: Receiver<Req>,
    to: Sender<Rsp>,
    remote: BidiStream<Req, Rsp>,
) -> Result<(), Error> {
    let (sender, mut receiver) = remote.split();
    let upstream = async {
        while let Some(message) = from.recv().await? {
            sender.send(message).await?;
        }
        sender.close().await
    };
    let downstream = async {
        while let Some(message) = receiver.recv().await? {
            to.send(message).await?;
        }
        Ok::<(), Error>(())
    };
    let (up, down) = tokio::join!(upstream, downstream);
    down.and(up)
}

macro_rules! debug_impl {
    ($($name:ident<$($t:ident),*>),*) => {$(
        impl<$($t),*> std::fmt::Debug for $name<$($t),*> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    )*};
}
debug_impl!(ClientStreaming<Req, Rsp>, BidiStream<Req, Rsp>);
