//! Streams: one [`Sender`] and one [`Receiver`] type, on both sides of a call.
//!
//! A handler gets a `Receiver` of the caller's messages and a `Sender` for its own; a client that
//! opens a stream gets the same two types the other way round. Either way:
//! - [`Sender::send`] takes `&self` (a sender is cheap to clone, so several tasks can send), and
//!   [`Sender`] is a [`futures_sink::Sink`], so `stream.forward(sender)` works;
//!   [`Sender::close`] ends this direction once everything sent is written;
//! - [`Receiver::recv`] gives the next message, `Ok(None)` at a clean end and an error when the
//!   stream broke, and [`Receiver`] is a [`futures_core::Stream`] of `Result<T, Error>`.
//!
//! [`channel`] links a `Sender` straight to a `Receiver`, so a handler can be called in-process
//! (in tests, say) without any socket.
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

mod receiver;
pub(crate) mod remote;
mod sender;

use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

pub use receiver::Receiver;
pub use sender::Sender;
pub(crate) use sender::Stopped;

use crate::error::Error;

/// What travels from a [`Sender`] to whoever writes its messages.
pub(crate) enum Item<T> {
    /// One message.
    Message(T),
    /// The stream broke on the sending side (a frame that did not decode): the receiver gets
    /// this error and nothing after it.
    Fail(Error),
    /// [`Sender::close`]: answer once everything before it is written, then take no more.
    Close(oneshot::Sender<Result<(), Error>>),
}

/// Why a stream's writing side stopped, for senders that try to send after it did.
pub(crate) type Why = Arc<OnceLock<Stopped>>;

/// A linked [`Sender`] and [`Receiver`] holding at most `capacity` messages in between.
pub fn channel<T: Send + 'static>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let why = Why::default();
    (
        Sender::new(tx, None, Arc::clone(&why)),
        Receiver::from_channel(rx, why),
    )
}

/// The raw halves of a channel, for the writer of a stream: the sender a handler or caller
/// gets, and the receiving end with the slot where the writer says why it stopped.
pub(crate) fn writer_channel<T: Send + 'static>(
    capacity: usize,
    deadline: Option<tokio::time::Instant>,
) -> (Sender<T>, mpsc::Receiver<Item<T>>, Why) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let why = Why::default();
    (Sender::new(tx, deadline, Arc::clone(&why)), rx, why)
}

/// A weak handle on a writer channel's senders: tells whether any sender is left.
pub(crate) type SendersLeft<T> = mpsc::WeakSender<Item<T>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn close_is_answered_once_the_receiver_has_everything() {
        let (tx, mut rx) = channel::<u32>(8);
        let other = tx.clone();
        tx.send(1).await.unwrap();
        let closing = tokio::spawn(async move { tx.close().await });
        assert_eq!(rx.recv().await.unwrap(), Some(1));
        assert_eq!(rx.recv().await.unwrap(), None);
        closing.await.unwrap().unwrap();
        // Closed for every clone: sending is refused, closing again is fine.
        assert_eq!(other.send(2).await.unwrap_err().code, 400);
        other.close().await.unwrap();
        assert!(other.is_closed());
    }

    #[tokio::test]
    async fn a_send_to_a_dropped_receiver_is_a_499() {
        let (tx, rx) = channel::<u32>(1);
        drop(rx);
        assert_eq!(tx.send(1).await.unwrap_err().code, 499);
        assert_eq!(tx.close().await.unwrap_err().code, 499);
    }

    #[tokio::test]
    async fn a_failed_stream_gives_its_error_then_ends() {
        let (tx, mut rx) = channel::<u32>(4);
        tx.send(1).await.unwrap();
        tx.fail(Error::bad_request("bad frame")).await;
        assert_eq!(rx.recv().await.unwrap(), Some(1));
        assert_eq!(rx.recv().await.unwrap_err().detail, "bad frame");
        assert_eq!(rx.recv().await.unwrap(), None);
    }
}
