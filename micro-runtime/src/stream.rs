//! The typed streams a handler uses: a [`Receiver`] of the caller's messages and a [`Sender`] of its
//! own.
//!
//! The server feeds a `Receiver` from the connection and writes what goes into a `Sender` back to
//! the caller, one frame per message. [`channel`] links the two ends directly, so a handler can be
//! called in-process (in tests, say) without any socket.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let (tx, mut rx) = micro_runtime::stream::channel::<u32>(4);
//! tx.send(7).await.unwrap();
//! drop(tx);
//! assert_eq!(rx.recv().await.unwrap(), Some(7));
//! assert_eq!(rx.recv().await.unwrap(), None);
//! # }
//! ```

use std::fmt;

use tokio::sync::mpsc;

use crate::error::{Error, SERVER_ID};

/// The sending half of a stream: what a handler answers with.
pub struct Sender<T> {
    tx: mpsc::Sender<Result<T, Error>>,
}

/// The receiving half of a stream: what the caller sends, in order.
pub struct Receiver<T> {
    rx: mpsc::Receiver<Result<T, Error>>,
}

/// A linked [`Sender`] and [`Receiver`] holding at most `capacity` messages in between.
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (Sender { tx }, Receiver { rx })
}

impl<T> Sender<T> {
    /// Sends one message; waits while the peer is `capacity` messages behind.
    ///
    /// Fails with a 499 error once the other side has gone away (the caller hung up), so a handler
    /// streaming a long answer stops early.
    pub async fn send(&self, message: T) -> Result<(), Error> {
        self.tx
            .send(Ok(message))
            .await
            .map_err(|_| Error::new(SERVER_ID, "the stream's peer has gone away", 499))
    }

    /// Whether the other side has gone away.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Delivers an error to the receiver, ending the stream for it (used by the transport when a
    /// frame cannot be decoded).
    pub(crate) async fn fail(&self, error: Error) {
        let _ = self.tx.send(Err(error)).await;
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
        }
    }
}

impl<T> Receiver<T> {
    /// The next message; `Ok(None)` once the sender has finished (the caller closed its side).
    ///
    /// An error means the stream broke (a frame that did not decode, the connection lost) and no
    /// more messages follow.
    pub async fn recv(&mut self) -> Result<Option<T>, Error> {
        match self.rx.recv().await {
            Some(Ok(message)) => Ok(Some(message)),
            Some(Err(err)) => {
                self.rx.close();
                Err(err)
            }
            None => Ok(None),
        }
    }
}

impl<T> Receiver<T> {
    /// The next message if one is already waiting (for batching writes); `None` otherwise.
    pub(crate) fn try_recv(&mut self) -> Option<Result<T, Error>> {
        self.rx.try_recv().ok()
    }
}

impl<T> futures_core::Stream for Receiver<T> {
    type Item = Result<T, Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}
