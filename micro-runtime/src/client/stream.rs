//! Client streams: one dedicated connection per stream, as go-micro.
//!
//! Opening a stream sends go-micro's init frame (the endpoint headers, `Micro-Stream`, an empty
//! body). Messages go one frame each; [`Sender::close`] sends `Micro-Error: EOS` and keeps the
//! connection open for the answer: a client-streaming caller finishes sending and then reads
//! the reply, which go-micro cannot do (its `CloseSend` is missing).
//!
//! A caller gets the same [`Sender`] and [`Receiver`] a handler does.

use crate::codec::Message;
use crate::error::{CLIENT_ID, Error};
use crate::stream::{Receiver, Sender};

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
        let reply = self.receiver.recv().await?.ok_or_else(|| {
            Error::internal_server_error("the server ended the stream without a reply")
                .with_id(CLIENT_ID)
        })?;
        // The server's `EOS` follows; not waiting for it is not hanging up.
        self.receiver.answered();
        Ok(reply)
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
