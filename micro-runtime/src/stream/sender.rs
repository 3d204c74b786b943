//! [`Sender`]: the sending half of a stream, for handlers and callers alike.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::PollSender;

use super::{Item, Why};
use crate::error::{CLIENT_ID, Error, SERVER_ID};

/// The sending half of a stream: what a handler answers with, and what a caller of a client or
/// bidirectional stream sends on.
///
/// Cheap to clone; clones send on the same stream. Messages are handed to the stream's writer,
/// which batches what is waiting into few socket writes, so `send` returns once the message is
/// queued and waits only while the connection is behind.
pub struct Sender<T> {
    tx: PollSender<Item<T>>,
    // A caller's stream deadline (the call's timeout): every operation fails with a 408 past it.
    deadline: Option<Instant>,
    why: Why,
    // Sink::poll_close's pending close, and the timer that bounds Sink operations.
    closing: Option<oneshot::Receiver<Result<(), Error>>>,
    timer: Option<Pin<Box<Sleep>>>,
}

/// How a stream's writer stopped taking messages.
#[derive(Clone, Debug)]
pub(crate) enum Stopped {
    /// [`Sender::close`] ended it.
    Closed,
    /// The connection failed, or the peer went away.
    Failed(Error),
}

impl<T: Send + 'static> Sender<T> {
    pub(crate) fn new(tx: mpsc::Sender<Item<T>>, deadline: Option<Instant>, why: Why) -> Self {
        Self {
            tx: PollSender::new(tx),
            deadline,
            why,
            closing: None,
            timer: None,
        }
    }

    /// Sends one message; waits only while the peer is behind.
    ///
    /// Fails once the stream cannot carry it: a 499 when the peer has gone away (a handler
    /// streaming a long answer stops early), the connection's error when it broke, a 400 after
    /// [`close`](Self::close), and a 408 past the call's deadline (a caller's stream with a
    /// timeout), instead of waiting on a peer that stopped reading.
    pub async fn send(&self, message: T) -> Result<(), Error> {
        let Some(tx) = self.tx.get_ref() else {
            return Err(self.stopped());
        };
        let sent = match self.deadline {
            // No timer without a deadline: this runs per message.
            None => tx.send(Item::Message(message)).await,
            Some(deadline) => {
                match tokio::time::timeout_at(deadline, tx.send(Item::Message(message))).await {
                    Ok(sent) => sent,
                    Err(_) => return Err(deadline_passed()),
                }
            }
        };
        sent.map_err(|_| self.stopped())
    }

    /// Ends this direction of the stream once everything sent before is written: a caller's
    /// stream sends go-micro's `EOS`, and replies can still be received; a handler's stream
    /// takes no more messages (the stream ends when the handler returns). Closing twice, or from
    /// two clones, is fine. Bounded by the call's deadline, as [`send`](Self::send) is.
    pub async fn close(&self) -> Result<(), Error> {
        let Some(tx) = self.tx.get_ref() else {
            return self.closed_result();
        };
        let (ack, done) = oneshot::channel();
        let closing = async {
            if tx.send(Item::Close(ack)).await.is_err() {
                return self.closed_result();
            }
            done.await.unwrap_or_else(|_| self.closed_result())
        };
        match self.deadline {
            None => closing.await,
            Some(deadline) => tokio::time::timeout_at(deadline, closing)
                .await
                .unwrap_or_else(|_| Err(deadline_passed())),
        }
    }

    /// A weak handle that tells whether any clone of this sender is left.
    pub(crate) fn downgrade(&self) -> Option<mpsc::WeakSender<Item<T>>> {
        self.tx.get_ref().map(mpsc::Sender::downgrade)
    }

    /// Whether the stream takes no more messages (the peer went away, or it was closed).
    pub fn is_closed(&self) -> bool {
        self.tx.get_ref().is_none_or(mpsc::Sender::is_closed)
    }

    /// The error of a send that the stream did not take.
    fn stopped(&self) -> Error {
        match self.why.get() {
            Some(Stopped::Failed(err)) => err.clone(),
            Some(Stopped::Closed) => {
                Error::bad_request("send after the stream was closed").with_id(SERVER_ID)
            }
            None => Error::new(SERVER_ID, "the stream's peer has gone away", 499),
        }
    }

    /// What closing a stream that already stopped means: fine if it was closed.
    fn closed_result(&self) -> Result<(), Error> {
        match self.why.get() {
            Some(Stopped::Closed) => Ok(()),
            _ => Err(self.stopped()),
        }
    }

    /// Polls the deadline, if there is one: `Ready` once it has passed.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(deadline) = self.deadline else {
            return Poll::Pending;
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        timer.as_mut().poll(cx)
    }
}

/// The error of a stream operation past the call's deadline.
fn deadline_passed() -> Error {
    Error::timeout("stream deadline exceeded: the call's timeout passed").with_id(CLIENT_ID)
}

impl<T: Send + 'static> futures_sink::Sink<T> for Sender<T> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if let Poll::Ready(ready) = this.tx.poll_reserve(cx) {
            return Poll::Ready(ready.map_err(|_| this.stopped()));
        }
        ready!(this.poll_deadline(cx));
        Poll::Ready(Err(deadline_passed()))
    }

    fn start_send(self: Pin<&mut Self>, message: T) -> Result<(), Error> {
        let this = self.get_mut();
        this.tx
            .send_item(Item::Message(message))
            .map_err(|_| this.stopped())
    }

    /// Ready at once: a message that was sent is in the writer's hands. [`poll_close`] waits
    /// until everything is written.
    ///
    /// [`poll_close`]: futures_sink::Sink::poll_close
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    /// [`Sender::close`]: ends this direction once everything sent is written.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.closing.is_none() {
            match this.tx.poll_reserve(cx) {
                Poll::Ready(Ok(())) => {
                    let (ack, done) = oneshot::channel();
                    if this.tx.send_item(Item::Close(ack)).is_err() {
                        return Poll::Ready(this.closed_result());
                    }
                    this.closing = Some(done);
                }
                Poll::Ready(Err(_)) => return Poll::Ready(this.closed_result()),
                Poll::Pending => {
                    ready!(this.poll_deadline(cx));
                    return Poll::Ready(Err(deadline_passed()));
                }
            }
        }
        let Some(done) = this.closing.as_mut() else {
            unreachable!("set above")
        };
        if let Poll::Ready(closed) = Pin::new(done).poll(cx) {
            this.closing = None;
            this.tx.close();
            return Poll::Ready(closed.unwrap_or_else(|_| this.closed_result()));
        }
        ready!(this.poll_deadline(cx));
        Poll::Ready(Err(deadline_passed()))
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            deadline: self.deadline,
            why: Arc::clone(&self.why),
            closing: None,
            timer: None,
        }
    }
}

impl<T: Send + 'static> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Sender<T> {
    /// Ends the stream for its receiver with `error` (the transport, when a frame does not
    /// decode).
    pub(crate) async fn fail(&self, error: Error) {
        if let Some(tx) = self.tx.get_ref() {
            let _ = tx.send(Item::Fail(error)).await;
        }
    }
}
