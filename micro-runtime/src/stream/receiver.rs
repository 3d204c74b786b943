//! [`Receiver`]: the receiving half of a stream, for handlers and callers alike.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::mpsc;

use super::remote::Remote;
use super::{Item, Stopped, Why};
use crate::codec::Message;
use crate::error::Error;

/// The receiving half of a stream: the caller's messages in a handler, the server's messages in
/// a caller. Also a [`futures_core::Stream`] of `Result<T, Error>`.
pub struct Receiver<T> {
    source: Source<T>,
}

enum Source<T> {
    /// Fed through a channel: a handler's view of the caller's messages, or [`super::channel`].
    Channel {
        rx: mpsc::Receiver<Item<T>>,
        why: Why,
        done: bool,
    },
    /// Read straight off a caller's connection: no task and no channel between the socket and
    /// the caller.
    Remote(Box<Remote<T>>),
}

impl<T> Receiver<T> {
    pub(crate) fn from_channel(rx: mpsc::Receiver<Item<T>>, why: Why) -> Self {
        Self {
            source: Source::Channel {
                rx,
                why,
                done: false,
            },
        }
    }

    pub(crate) fn from_remote(remote: Remote<T>) -> Self {
        Self {
            source: Source::Remote(Box::new(remote)),
        }
    }

    /// A caller's stream got the one answer it waited for (see [`Remote::answered`]).
    pub(crate) fn answered(&mut self) {
        if let Source::Remote(remote) = &mut self.source {
            remote.answered();
        }
    }
}

impl<T: Message> Receiver<T> {
    /// The next message; `Ok(None)` once the other side has ended the stream successfully (a
    /// caller closed its side, a server's handler returned `Ok`).
    ///
    /// An error means the stream broke or ended with that error (a frame that did not decode, the
    /// connection lost, the server's handler failed, the call's deadline passed) and no more
    /// messages follow.
    pub async fn recv(&mut self) -> Result<Option<T>, Error> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<T>, Error>> {
        match &mut self.source {
            Source::Remote(remote) => remote.poll_recv(cx),
            Source::Channel { rx, why, done } => {
                if *done {
                    return Poll::Ready(Ok(None));
                }
                let item = match rx.poll_recv(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(item) => item,
                };
                Poll::Ready(match item {
                    Some(Item::Message(message)) => Ok(Some(message)),
                    Some(Item::Fail(err)) => {
                        *done = true;
                        rx.close();
                        Err(err)
                    }
                    // Everything sent before the close has been received: that is the ack.
                    Some(Item::Close(ack)) => {
                        *done = true;
                        let _ = why.set(Stopped::Closed);
                        rx.close();
                        let _ = ack.send(Ok(()));
                        Ok(None)
                    }
                    None => {
                        *done = true;
                        Ok(None)
                    }
                })
            }
        }
    }
}

impl<T: Message> futures_core::Stream for Receiver<T> {
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx).map(Result::transpose)
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match self.source {
            Source::Channel { .. } => "channel",
            Source::Remote(_) => "connection",
        };
        f.debug_struct("Receiver")
            .field("source", &source)
            .finish_non_exhaustive()
    }
}
