//! The caller's direction of a stream.
//!
//! Until the first message, the sender writes on the socket itself. The first [`StreamSender::send`]
//! hands the socket to a writer task fed by a bounded channel; the task writes every message that
//! is waiting in one batch, so a fast producer costs one syscall per batch instead of one per
//! message, and `send` returns as soon as the message is queued. The channel's bound pushes back
//! on a producer that outruns the network.

use std::marker::PhantomData;

use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::codec::{ContentType, Message};
use crate::error::{CLIENT_ID, Error};
use crate::transport::{FrameTemplate, FrameWriter};

/// Messages waiting between [`StreamSender::send`] and the writer task.
const QUEUE: usize = 64;
/// At most this many bytes of waiting messages go into one socket write.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

type Writer = FrameWriter<OwnedWriteHalf>;

/// Sends the caller's messages of a stream.
pub struct StreamSender<T> {
    state: State<T>,
    host: String,
    frames: Frames,
    deadline: Option<Instant>,
    _message: PhantomData<fn(T)>,
}

/// What the writer task is told.
enum Out<T> {
    Message(T),
    Close,
}

enum State<T> {
    /// Nothing but the init frame sent yet: the socket is ours.
    Direct(Writer),
    /// The writer task owns the socket.
    Pumping {
        tx: mpsc::Sender<Out<T>>,
        task: JoinHandle<Result<Writer, Error>>,
    },
    /// `EOS` was sent; the write half stays open until the sender is dropped, since closing it
    /// would tell the server we hung up.
    Closed { _held: Option<Writer> },
}

/// The frame templates of one stream.
#[derive(Clone)]
pub(super) struct Frames {
    pub(super) message: FrameTemplate,
    pub(super) eos: FrameTemplate,
    pub(super) content_type: ContentType,
}

impl<T: Message> StreamSender<T> {
    pub(super) fn new(
        writer: Writer,
        host: String,
        frames: Frames,
        deadline: Option<Instant>,
    ) -> Self {
        Self {
            state: State::Direct(writer),
            host,
            frames,
            deadline,
            _message: PhantomData,
        }
    }

    /// Queues one message for sending; waits only while the connection is behind.
    ///
    /// An error means the stream is broken (the connection failed, or a message could not be
    /// encoded): nothing more will be sent. Past the call's deadline (its timeout), it fails with
    /// a 408 instead of waiting on a peer that stopped reading.
    pub async fn send(&mut self, message: T) -> Result<(), Error> {
        match self.deadline {
            // No wrapper without a deadline: this runs per message.
            None => self.send_unbounded(message).await,
            Some(_) => within(self.deadline, self.send_unbounded(message)).await,
        }
    }

    async fn send_unbounded(&mut self, message: T) -> Result<(), Error> {
        if let State::Direct(_) = self.state {
            let State::Direct(writer) =
                std::mem::replace(&mut self.state, State::Closed { _held: None })
            else {
                unreachable!("checked above")
            };
            let (tx, rx) = mpsc::channel(QUEUE);
            let task = tokio::spawn(pump(rx, writer, self.frames.clone(), self.host.clone()));
            self.state = State::Pumping { tx, task };
        }
        match &mut self.state {
            State::Pumping { tx, .. } => {
                if tx.send(Out::Message(message)).await.is_ok() {
                    return Ok(());
                }
                Err(self
                    .finish()
                    .await
                    .err()
                    .unwrap_or_else(|| self.broken("writer stopped")))
            }
            State::Closed { .. } => Err(Error::bad_request(CLIENT_ID, "send after close")),
            State::Direct(_) => unreachable!("replaced above"),
        }
    }

    /// Writes one message now, without a writer task: a server-streaming call's one request.
    pub(super) async fn send_now(&mut self, message: &T) -> Result<(), Error> {
        within(self.deadline, self.send_now_unbounded(message)).await
    }

    async fn send_now_unbounded(&mut self, message: &T) -> Result<(), Error> {
        let State::Direct(writer) = &mut self.state else {
            return Err(self.broken("the stream has already started"));
        };
        let frames = &self.frames;
        frames
            .content_type
            .queue_frame(writer, &frames.message, message)?;
        let result = writer.flush().await;
        result.map_err(|e| self.broken(&e.to_string()))
    }

    /// Ends this direction of the stream (go-micro's `EOS` frame) once every queued message is
    /// written; the server's messages can still be read. Closing twice does nothing. Bounded by
    /// the call's deadline, as [`send`](Self::send) is.
    pub async fn close(&mut self) -> Result<(), Error> {
        within(self.deadline, self.close_unbounded()).await
    }

    async fn close_unbounded(&mut self) -> Result<(), Error> {
        match &mut self.state {
            State::Closed { .. } => Ok(()),
            State::Direct(writer) => {
                writer.queue_templated(&self.frames.eos, 0, |_| {});
                let result = writer.flush().await;
                let State::Direct(writer) =
                    std::mem::replace(&mut self.state, State::Closed { _held: None })
                else {
                    unreachable!("matched above")
                };
                self.state = State::Closed {
                    _held: Some(writer),
                };
                result.map_err(|e| self.broken(&e.to_string()))
            }
            State::Pumping { tx, .. } => {
                // If the task is gone, `finish` reports why.
                let _ = tx.send(Out::Close).await;
                self.finish().await
            }
        }
    }

    // Waits for the writer task and keeps the socket it hands back.
    async fn finish(&mut self) -> Result<(), Error> {
        let State::Pumping { task, .. } =
            std::mem::replace(&mut self.state, State::Closed { _held: None })
        else {
            return Ok(());
        };
        match task.await {
            Ok(Ok(writer)) => {
                self.state = State::Closed {
                    _held: Some(writer),
                };
                Ok(())
            }
            Ok(Err(err)) => Err(err),
            Err(_) => Err(self.broken("the writer task panicked")),
        }
    }

    fn broken(&self, detail: &str) -> Error {
        broken(&self.host, detail)
    }
}

/// Runs one stream operation within the call's deadline, if it has one: the deadline is enforced
/// here, not only sent to the server, so a peer that never answers cannot hold the caller.
pub(super) async fn within<T>(
    deadline: Option<Instant>,
    operation: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, operation)
            .await
            .unwrap_or_else(|_| {
                Err(Error::timeout(
                    CLIENT_ID,
                    "stream deadline exceeded: the call's timeout passed",
                ))
            }),
        None => operation.await,
    }
}

/// The error of a stream whose connection failed.
pub(super) fn broken(host: &str, detail: &str) -> Error {
    Error::internal_server_error(
        "go.micro.client.transport",
        format!("stream to {host} broke: {detail}"),
    )
}

/// The writer task: writes what is waiting in one batch, until `Close` (then `EOS`) or until the
/// sender is dropped (then the write half closes, which the server reads as a hang-up).
async fn pump<T: Message>(
    mut rx: mpsc::Receiver<Out<T>>,
    mut writer: Writer,
    frames: Frames,
    host: String,
) -> Result<Writer, Error> {
    let ct = frames.content_type;
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        let mut closing = false;
        while let Some(out) = next.take() {
            match out {
                Out::Message(message) => ct.queue_frame(&mut writer, &frames.message, &message)?,
                Out::Close => {
                    writer.queue_templated(&frames.eos, 0, |_| {});
                    closing = true;
                    break;
                }
            }
            if writer.buffered() < WRITE_BATCH_BYTES {
                next = rx.try_recv().ok();
            }
        }
        writer
            .flush()
            .await
            .map_err(|e| broken(&host, &e.to_string()))?;
        if closing {
            break;
        }
    }
    Ok(writer)
}
