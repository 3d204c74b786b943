//! The caller's direction of a client or bidirectional stream: a writer task fed by the
//! stream's [`Sender`].
//!
//! The task owns the connection's write half and writes every message that is waiting in one
//! batch, so a fast producer costs one syscall per batch instead of one per message, and `send`
//! returns as soon as the message is queued. The channel's bound pushes back on a producer that
//! outruns the network.
//!
//! How the caller's direction ends:
//! - [`Sender::close`]: `EOS` once everything before it is written; replies can still be read;
//! - every sender dropped while the stream's receiver lives: the same `EOS` (a half-close);
//! - the receiver dropped too (the whole stream dropped) before the server ended the stream: the
//!   connection is reset, which the server reads as a hang-up and cancels its handler, even after
//!   an `EOS` (`transport/hang_up.rs`).
//!
//! After `EOS` the task keeps the write half open until the receiver is dropped, so the server
//! can tell a caller that still reads from one that left.

use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::codec::{ContentType, Message};
use crate::error::Error;
use crate::stream::{Item, Sender, SendersLeft, Stopped, Why, writer_channel};
use crate::transport::FrameTemplate;
use crate::transport::hang_up::StreamWriter;

/// Messages waiting between [`Sender::send`] and the writer task.
const QUEUE: usize = 64;
/// At most this many bytes of waiting messages go into one socket write.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

pub(super) type Writer = StreamWriter;

/// The frame templates of one stream.
#[derive(Clone)]
pub(super) struct Frames {
    pub(super) message: FrameTemplate,
    pub(super) eos: FrameTemplate,
    pub(super) content_type: ContentType,
}

/// Starts the writer task of a stream: the sender for the caller, and the hold the stream's
/// receiver keeps (while it lives, the write half stays open).
pub(super) fn spawn_writer<T: Message>(
    writer: Writer,
    frames: Frames,
    host: String,
    deadline: Option<Instant>,
) -> (Sender<T>, Hold<T>) {
    let (sender, rx, why) = writer_channel(QUEUE, deadline);
    let (hold, held) = oneshot::channel();
    let task = tokio::spawn(pump(rx, writer, frames, host, why, held, deadline));
    let hold = Hold {
        _hold: hold,
        senders: sender.downgrade(),
        task: task.abort_handle(),
    };
    (sender, hold)
}

/// What a stream's receiver holds of the writer task: while it lives the write half stays open.
/// Dropped with no sender left, the whole stream is gone: the task stops at once, even in the
/// middle of a write to a server that stopped reading, and the connection closes.
pub(super) struct Hold<T> {
    _hold: oneshot::Sender<()>,
    senders: Option<SendersLeft<T>>,
    task: AbortHandle,
}

impl<T> Drop for Hold<T> {
    fn drop(&mut self) {
        if self
            .senders
            .as_ref()
            .is_none_or(|weak| weak.upgrade().is_none())
        {
            self.task.abort();
        }
    }
}

/// What to do after handling one item.
enum Flow {
    Go,
    /// Flush, answer the close, and stop taking messages.
    Close(oneshot::Sender<Result<(), Error>>),
    /// Stop now: the stream is broken.
    Stop,
}

async fn pump<T: Message>(
    mut rx: mpsc::Receiver<Item<T>>,
    mut writer: Writer,
    frames: Frames,
    host: String,
    why: Why,
    mut held: oneshot::Receiver<()>,
    deadline: Option<Instant>,
) {
    let ct = frames.content_type;
    loop {
        let Some(first) = rx.recv().await else {
            // Every sender is gone. With the receiver gone too, hang up; else half-close.
            if matches!(held.try_recv(), Err(oneshot::error::TryRecvError::Closed)) {
                return;
            }
            writer.queue_templated(&frames.eos, 0, |_| {});
            let _ = writer.flush().await;
            let _ = why.set(Stopped::Closed);
            let _ = held.await;
            return;
        };
        let mut next = Some(first);
        let mut flow = Flow::Go;
        while let Some(item) = next.take() {
            flow = match item {
                Item::Message(message) => {
                    match ct.queue_frame(&mut writer, &frames.message, &message) {
                        Ok(()) => Flow::Go,
                        Err(err) => {
                            let _ = why.set(Stopped::Failed(err));
                            Flow::Stop
                        }
                    }
                }
                Item::Close(ack) => {
                    writer.queue_templated(&frames.eos, 0, |_| {});
                    Flow::Close(ack)
                }
                // Only a handler's receiving side is failed; a caller's sender never is.
                Item::Fail(err) => {
                    let _ = why.set(Stopped::Failed(err));
                    Flow::Stop
                }
            };
            if matches!(flow, Flow::Go) && writer.buffered() < WRITE_BATCH_BYTES {
                next = rx.try_recv().ok();
            }
        }
        if matches!(flow, Flow::Stop) {
            return;
        }
        // Bounded by the call's deadline, as every operation of the stream is.
        let flushed = match deadline {
            None => writer.flush().await,
            Some(deadline) => tokio::time::timeout_at(deadline, writer.flush())
                .await
                .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into())),
        }
        .map_err(|e| broken(&host, &e.to_string()));
        if let Err(err) = &flushed {
            let _ = why.set(Stopped::Failed(err.clone()));
        }
        match flow {
            Flow::Close(ack) => {
                if flushed.is_ok() {
                    let _ = why.set(Stopped::Closed);
                }
                rx.close();
                let _ = ack.send(flushed);
                let _ = held.await;
                return;
            }
            _ if flushed.is_err() => return,
            _ => {}
        }
    }
}

/// The error of a stream whose connection failed.
pub(super) fn broken(host: &str, detail: &str) -> Error {
    Error::internal_server_error(format!("stream to {host} broke: {detail}"))
        .with_id("go.micro.client.transport")
}
