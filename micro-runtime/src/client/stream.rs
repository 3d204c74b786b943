//! Client streams: one dedicated connection per stream, as go-micro.
//!
//! Opening a stream sends go-micro's init frame (the endpoint headers, `Micro-Stream`, an empty
//! body). Messages go one frame each; [`StreamSender::close`] sends `Micro-Error: EOS` and keeps
//! the connection open for the answer: a client-streaming caller finishes sending and then reads
//! the reply, which go-micro cannot do (its `CloseSend` is missing).

use std::marker::PhantomData;

use tokio::time::Instant;

use tokio::net::tcp::OwnedReadHalf;

use super::call::{nodes, reply_body, request_headers};
pub use super::sender::StreamSender;
use super::sender::{Frames, broken};
use super::{CallOptions, Client};
use crate::codec::{ContentType, Message};
use crate::error::{CLIENT_ID, Error};
use crate::stream::{Receiver, Sender};
use crate::transport::pool::ClientConn;
use crate::transport::{FrameReader, FrameTemplate, STREAM_READ_BYTES};

/// Receives the server's messages of a stream.
pub struct ResponseStream<T> {
    reader: FrameReader<OwnedReadHalf>,
    content_type: ContentType,
    done: bool,
    deadline: Option<Instant>,
    /// Keeps our direction open: dropping the write half would tell the server we hung up.
    _sender: Option<Box<dyn std::any::Any + Send>>,
    _message: PhantomData<fn() -> T>,
}

/// A client-streaming call: send messages, then [`close_and_recv`](Self::close_and_recv).
pub struct ClientStreaming<Req, Rsp> {
    sender: StreamSender<Req>,
    receiver: ResponseStream<Rsp>,
}

/// A bidirectional stream: send and receive, or [`split`](Self::split) to do both at once.
pub struct BidiStream<Req, Rsp> {
    sender: StreamSender<Req>,
    receiver: ResponseStream<Rsp>,
}

/// Opens a stream to the first node that accepts a connection, and sends the init frame.
pub(super) async fn open<Req: Message, Rsp: Message>(
    client: &Client,
    service: &str,
    endpoint: &str,
    options: &CallOptions,
) -> Result<(StreamSender<Req>, ResponseStream<Rsp>), Error> {
    let content_type = options
        .content_type
        .unwrap_or(client.inner.options.content_type);
    let deadline = options.stream_deadline();
    let retries = options.retries.unwrap_or(client.inner.options.retries);
    let mut last = None;
    for node in nodes(client, service, options)
        .await?
        .into_iter()
        .take(retries as usize + 1)
    {
        let conn = match ClientConn::dial(
            &node.address,
            client.inner.options.dial_timeout,
            &client.inner.options.limits,
        )
        .await
        {
            Ok(conn) => conn,
            Err(e) => {
                client.inner.selector.mark_failed(&node);
                last = Some(Error::internal_server_error(
                    CLIENT_ID,
                    format!("connection error: {}: {e}", node.address),
                ));
                continue;
            }
        };
        let mut headers = request_headers(
            client,
            service,
            endpoint,
            content_type,
            &options.metadata,
            deadline,
        )?;
        let id = headers.get("Micro-Id").unwrap_or("0").to_string();
        headers.insert("Micro-Stream", id);
        let mut writer = conn.writer;
        writer.queue_request(&node.address, &headers, b"");
        if let Err(e) = writer.flush().await {
            last = Some(broken(&node.address, &e.to_string()));
            continue;
        }
        // Later frames need no deadline: the server took it from the init frame.
        headers.remove("Timeout");
        let message = FrameTemplate::request(&node.address, &headers);
        headers.remove("Content-Type");
        headers.insert("Micro-Error", "EOS");
        let frames = Frames {
            message,
            eos: FrameTemplate::request(&node.address, &headers),
            content_type,
        };
        let sender = StreamSender::new(writer, node.address.clone(), frames, deadline);
        let receiver = ResponseStream {
            reader: conn.reader.with_read_size(STREAM_READ_BYTES),
            content_type,
            done: false,
            deadline,
            _sender: None,
            _message: PhantomData,
        };
        return Ok((sender, receiver));
    }
    Err(last.unwrap_or_else(|| {
        Error::unavailable(
            CLIENT_ID,
            format!("error selecting {service} node: none available"),
        )
    }))
}

impl<T: Message> ResponseStream<T> {
    /// The next message; `Ok(None)` once the server has ended the stream successfully, an error if
    /// it ended with one.
    ///
    /// Past the call's deadline (its timeout or deadline option) it fails with a 408, whatever the
    /// server does. This matters against go-micro servers: after a bidirectional stream's client
    /// closes its side first, a go-micro server sends no `EOS` (its router returns without one), so
    /// without a deadline `recv` would wait until the server drops the connection.
    pub async fn recv(&mut self) -> Result<Option<T>, Error> {
        if self.done {
            return Ok(None);
        }
        // The deadline wraps only the read, and only when there is one: this runs per message.
        let read = match self.deadline {
            None => self.reader.read_stream_frame(false).await,
            Some(deadline) => {
                match tokio::time::timeout_at(deadline, self.reader.read_stream_frame(false)).await
                {
                    Ok(read) => read,
                    Err(_) => {
                        // A frame half-read when the deadline passed leaves the stream unusable.
                        self.done = true;
                        return Err(Error::timeout(
                            CLIENT_ID,
                            "stream deadline exceeded: the call's timeout passed",
                        ));
                    }
                }
            }
        };
        let frame = match read {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                self.done = true;
                return Err(Error::internal_server_error(
                    "go.micro.client.transport",
                    "the server closed the stream without ending it",
                ));
            }
            Err(e) => {
                self.done = true;
                return Err(Error::internal_server_error(
                    "go.micro.client.transport",
                    format!("broken stream: {e}"),
                ));
            }
        };
        if frame.error.as_deref() == Some("EOS") {
            self.done = true;
            return Ok(None);
        }
        match reply_body(frame.status, frame.error.as_deref(), frame.body) {
            Ok(body) => self
                .content_type
                .decode(body)
                .map(Some)
                .map_err(client_codec),
            Err(err) => {
                self.done = true;
                Err(err)
            }
        }
    }
}

fn client_codec(mut err: Error) -> Error {
    err.id = "go.micro.client.codec".to_string();
    err
}

impl<Req: Message, Rsp: Message> ClientStreaming<Req, Rsp> {
    pub(super) fn new(sender: StreamSender<Req>, receiver: ResponseStream<Rsp>) -> Self {
        Self { sender, receiver }
    }

    /// Sends one message.
    pub async fn send(&mut self, message: Req) -> Result<(), Error> {
        self.sender.send(message).await
    }

    /// Ends the requests and waits for the server's single reply.
    pub async fn close_and_recv(mut self) -> Result<Rsp, Error> {
        self.sender.close().await?;
        let reply = self.receiver.recv().await?.ok_or_else(|| {
            Error::internal_server_error(CLIENT_ID, "the server ended the stream without a reply")
        })?;
        Ok(reply)
    }
}

impl<Req: Message, Rsp: Message> BidiStream<Req, Rsp> {
    pub(super) fn new(sender: StreamSender<Req>, receiver: ResponseStream<Rsp>) -> Self {
        Self { sender, receiver }
    }

    /// Sends one message.
    pub async fn send(&mut self, message: Req) -> Result<(), Error> {
        self.sender.send(message).await
    }

    /// Ends this direction; replies can still be read.
    pub async fn close_send(&mut self) -> Result<(), Error> {
        self.sender.close().await
    }

    /// The next reply; `Ok(None)` once the server has ended the stream.
    pub async fn recv(&mut self) -> Result<Option<Rsp>, Error> {
        self.receiver.recv().await
    }

    /// The two directions, to send and receive from different tasks.
    pub fn split(self) -> (StreamSender<Req>, ResponseStream<Rsp>) {
        (self.sender, self.receiver)
    }
}

impl<T> ResponseStream<T> {
    /// Keeps the caller's direction open for as long as this stream lives (server streaming, where
    /// the caller sends nothing after its request).
    pub(super) fn hold_sender<U: Message>(mut self, sender: StreamSender<U>) -> Self {
        self._sender = Some(Box::new(sender));
        self
    }
}

/// Relays a remote server stream into a handler's sender (a client standing in for a handler).
pub async fn forward_server_stream<T: Message>(
    mut from: ResponseStream<T>,
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
    mut to: ClientStreaming<Req, Rsp>,
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
    let (mut sender, mut receiver) = remote.split();
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
debug_impl!(StreamSender<T>, ResponseStream<T>, ClientStreaming<Req, Rsp>, BidiStream<Req, Rsp>);
