//! Serving the three streaming rpc kinds over one dedicated connection.
//!
//! go-micro's stream protocol (reference §1.5): the caller's first frame (the *init* frame) only
//! dispatches and its body is ignored; for server streaming the request is the next frame; every
//! message is one frame each way; either side ends its direction with an empty frame carrying
//! `Micro-Error: EOS`. The server's final frame is `EOS` after success or the error.
//!
//! Each kind is a generic function, so messages are decoded straight into the handler's typed
//! channel and encoded straight from it: one channel hop each way, no boxing per message.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;

use super::activity::Activity;
use super::router::StreamRoute;
use crate::codec::{ContentType, Message};
use crate::context::Context;
use crate::error::{Error, SERVER_ID};
use crate::registry::BoxFuture;
use tokio::sync::mpsc;

use crate::stream::{self, Item, Receiver, Sender, Stopped, Why, writer_channel};
use crate::transport::halves::{ReadHalf, WriteHalf};
use crate::transport::{FrameTemplate, Headers};

/// How many decoded messages wait between the connection and a handler before the connection stops
/// reading (and TCP pushes back on the caller).
const STREAM_BUFFER: usize = 32;
/// How many of a handler's messages wait for the socket. The writer drains what is waiting into
/// one write, so this bounds the batch: at 32, small messages cost a syscall every 32 messages.
const SEND_BUFFER: usize = 1024;
/// At most this many bytes of ready messages are batched into one socket write.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

/// The connection, handed to a streaming endpoint.
pub(crate) struct StreamIo {
    pub(crate) reader: ReadHalf,
    pub(crate) writer: WriteHalf,
    pub(crate) content_type: ContentType,
    /// Headers of every frame the server sends (Content-Type, Micro-Id, Micro-Stream, ...).
    pub(crate) headers: Headers,
    /// Those headers rendered once, for the message frames.
    pub(crate) template: FrameTemplate,
    /// The first message, when the caller put it in the init frame (a client that is not
    /// go-micro's, so sent no `Micro-Stream`); go-micro clients send an empty init frame.
    pub(crate) initial: Option<Bytes>,
    pub(crate) deadline: Option<tokio::time::Instant>,
    /// How long the stream may go without reading or writing a frame.
    pub(crate) idle_timeout: std::time::Duration,
}

/// How the caller's direction of a stream ended.
enum ReadEnd {
    /// It sent `EOS`: it still reads our answer.
    Closed,
    /// The connection dropped or sent something unreadable: nobody reads our answer.
    Gone,
}

/// Reads the caller's frames into `tx` until it sends EOS or goes away.
async fn read_messages<Req: Message>(
    io: &mut StreamIoReader<'_>,
    tx: Option<Sender<Req>>,
) -> ReadEnd {
    loop {
        let frame = match io.reader.read_stream_frame(true).await {
            Ok(Some(frame)) => {
                io.activity.touch();
                frame
            }
            Ok(None) => return ReadEnd::Gone,
            Err(err) => {
                if let Some(tx) = &tx {
                    tx.fail(Error::bad_request(format!("broken stream: {err}")).with_id(SERVER_ID))
                        .await;
                }
                return ReadEnd::Gone;
            }
        };
        if let Some(end) = frame.error {
            // EOS is the caller's half-close; any other error text means it gave up.
            return if end == "EOS" {
                ReadEnd::Closed
            } else {
                ReadEnd::Gone
            };
        }
        if let Some(tx) = &tx {
            match io.content_type.decode::<Req>(frame.body) {
                // A handler that dropped its receiver wants no more messages: keep reading for EOS.
                Ok(message) => drop(tx.send(message).await),
                Err(err) => {
                    tx.fail(err).await;
                    return ReadEnd::Gone;
                }
            }
        }
    }
}

/// How long the stream's final frame may take to write: the caller may have stopped reading.
const FINAL_WRITE_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Writes what the handler sends, batching messages that are already waiting into one write.
async fn write_messages<Rsp: Message>(
    io: &mut StreamIoWriter<'_>,
    mut rx: mpsc::Receiver<Item<Rsp>>,
    why: Why,
) -> Result<(), Error> {
    let ct = io.content_type;
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        let mut close = None;
        while let Some(item) = next.take() {
            match item {
                Item::Message(message) => ct.queue_frame(io.writer, io.template, &message)?,
                Item::Close(ack) => {
                    close = Some(ack);
                    break;
                }
                // A handler's sender is never failed; only receivers are.
                Item::Fail(err) => return Err(err),
            }
            if io.writer.buffered() < WRITE_BATCH_BYTES {
                next = rx.try_recv().ok();
            }
        }
        if let Err(e) = io.writer.flush().await {
            let gone = Error::new(SERVER_ID, format!("the caller went away: {e}"), 499);
            let _ = why.set(Stopped::Failed(gone.clone()));
            return Err(gone);
        }
        io.activity.touch();
        if let Some(ack) = close {
            // The handler closed its sender: what it sent is written, and it sends no more.
            let _ = why.set(Stopped::Closed);
            rx.close();
            let _ = ack.send(Ok(()));
        }
    }
    Ok(())
}

struct StreamIoReader<'a> {
    reader: &'a mut ReadHalf,
    content_type: ContentType,
    activity: Activity,
    idle_timeout: std::time::Duration,
}

struct StreamIoWriter<'a> {
    writer: &'a mut WriteHalf,
    template: &'a FrameTemplate,
    content_type: ContentType,
    activity: Activity,
}

impl StreamIo {
    fn split(&mut self) -> (StreamIoReader<'_>, StreamIoWriter<'_>) {
        let activity = Activity::new();
        (
            StreamIoReader {
                reader: &mut self.reader,
                content_type: self.content_type,
                activity: activity.clone(),
                idle_timeout: self.idle_timeout,
            },
            StreamIoWriter {
                writer: &mut self.writer,
                template: &self.template,
                content_type: self.content_type,
                activity,
            },
        )
    }

    /// Writes the stream's final frame (`EOS` or the error), giving up on a caller that does not
    /// read it in time.
    pub(crate) async fn finish(&mut self, end: String) {
        let mut headers = self.headers.clone();
        headers.remove("Content-Type");
        headers.insert("Micro-Error", end);
        self.writer.queue_response(200, &headers, b"");
        let _ = tokio::time::timeout(FINAL_WRITE_TIME, self.writer.flush()).await;
    }

    /// Pushes the init frame's message, if the caller sent one there. An empty init body carries
    /// no message (go-micro's codec skips empty bodies the same way).
    async fn deliver_initial<Req: Message>(&mut self, tx: &Sender<Req>) -> Result<(), Error> {
        if let Some(body) = self.initial.take().filter(|body| !body.is_empty()) {
            let _ = tx.send(self.content_type.decode(body)?).await;
        }
        Ok(())
    }

    /// The request of a server-streaming call: in the init frame, or else the next frame.
    ///
    /// Reads frame by frame rather than through [`read_messages`], so that nothing is left
    /// half-read when it returns.
    async fn read_request<Req: Message>(&mut self) -> Result<Req, Error> {
        if let Some(body) = self.initial.take() {
            return self.content_type.decode(body);
        }
        let ended =
            || Error::bad_request("the stream ended before its request arrived").with_id(SERVER_ID);
        let read = tokio::time::timeout(self.idle_timeout, self.reader.read_request());
        let Ok(read) = read.await else {
            return Err(idle_error(self.idle_timeout));
        };
        match read {
            Ok(Some(frame)) if frame.headers.get_micro("Micro-Error").is_some() => Err(ended()),
            Ok(Some(frame)) => self.content_type.decode(frame.body),
            Ok(None) => Err(ended()),
            Err(err) => Err(Error::bad_request(format!("broken stream: {err}")).with_id(SERVER_ID)),
        }
    }

    /// Sends one message outside the handler's stream (a client-streaming call's reply).
    async fn send_reply<Rsp: Message>(&mut self, reply: &Rsp) -> Result<(), Error> {
        let ct = self.content_type;
        ct.queue_frame(&mut self.writer, &self.template, reply)?;
        let flushed = tokio::time::timeout(self.idle_timeout, self.writer.flush()).await;
        match flushed {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::new(
                SERVER_ID,
                format!("the caller went away: {e}"),
                499,
            )),
            Err(_) => Err(idle_error(self.idle_timeout)),
        }
    }
}

/// Runs `work` (the handler and its writer) while reading the caller's frames into `tx`.
///
/// If the caller goes away, `work` is dropped, cancelling the handler, since nobody reads its
/// answer. The deadline from the caller's `Timeout` header bounds the whole stream.
async fn run_with_reader<Req: Message, T>(
    reader: &mut StreamIoReader<'_>,
    tx: Option<Sender<Req>>,
    work: impl Future<Output = Result<T, Error>>,
    deadline: Option<tokio::time::Instant>,
) -> Result<T, Error> {
    let work = async move {
        match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, work)
                .await
                .unwrap_or_else(|_| {
                    Err(Error::timeout("stream deadline exceeded").with_id(SERVER_ID))
                }),
            None => work.await,
        }
    };
    tokio::pin!(work);
    let activity = reader.activity.clone();
    let idle_timeout = reader.idle_timeout;
    let idle = activity.idle_for(idle_timeout);
    tokio::pin!(idle);
    let gone = || Err(Error::new(SERVER_ID, "the caller went away", 499));
    let end = {
        let read = read_messages(reader, tx);
        tokio::pin!(read);
        // The work first, so a handler that finished is not taken for one whose caller left.
        tokio::select! {
            biased;
            result = &mut work => return result,
            end = &mut read => end,
            () = &mut idle => return Err(idle_error(idle_timeout)),
        }
    };
    match end {
        ReadEnd::Gone => gone(),
        ReadEnd::Closed => tokio::select! {
            biased;
            result = work => result,
            () = idle => Err(idle_error(idle_timeout)),
            () = hung_up(reader) => gone(),
        },
    }
}

/// Resolves when a caller that has sent `EOS` resets the connection (it left without reading the
/// answer, see `transport/hang_up.rs`) or breaks it: any error but a clean end, including a
/// malformed frame, since nothing may follow `EOS`. A FIN is a half-close: the caller may still
/// read, so the stream goes on. Frames after `EOS` are read and ignored.
async fn hung_up(io: &mut StreamIoReader<'_>) {
    loop {
        match io.reader.read_stream_frame(true).await {
            Ok(Some(_)) => {}
            Ok(None) => return std::future::pending().await,
            Err(err) => {
                tracing::debug!(error = %err, "the caller left a stream after its end of input");
                return;
            }
        }
    }
}

/// The error a stream ends with when it went too long without reading or writing a frame.
fn idle_error(timeout: std::time::Duration) -> Error {
    tracing::debug!(?timeout, "closing an idle stream");
    Error::new(
        SERVER_ID,
        format!("stream idle for {timeout:?}: no frame read or written"),
        408,
    )
}

/// Declares the route type of one streaming kind; `$serve` does the work.
macro_rules! stream_route {
    ($(#[$doc:meta])* $name:ident, $ctor:ident, $serve:ident, Fn($($arg:ty),*) -> $out:ty) => {
        $(#[$doc])*
        pub(crate) struct $name<F, Req, Rsp>(Arc<F>, PhantomData<fn(Req) -> Rsp>);

        pub(crate) fn $ctor<Req, Rsp, F>(handler: F) -> $name<F, Req, Rsp> {
            $name(Arc::new(handler), PhantomData)
        }

        impl<Req, Rsp, F, Fut> StreamRoute for $name<F, Req, Rsp>
        where
            Req: Message,
            Rsp: Message,
            F: Fn($($arg),*) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = Result<$out, Error>> + Send + 'static,
        {
            fn call(&self, ctx: Context, mut io: StreamIo) -> BoxFuture<'static, (Result<(), Error>, StreamIo)> {
                let handler = Arc::clone(&self.0);
                // The handler's context is the task's current one: calls it makes inherit it.
                Box::pin(ctx.clone().scope(async move {
                    let result = $serve::<Req, Rsp, F, Fut>(&*handler, ctx, &mut io).await;
                    (result, io)
                }))
            }
        }
    };
}

stream_route!(
    /// A server-streaming endpoint.
    ServerStream, server_stream, serve_server_stream, Fn(Context, Req, Sender<Rsp>) -> ()
);
stream_route!(
    /// A client-streaming endpoint.
    ClientStream, client_stream, serve_client_stream, Fn(Context, Receiver<Req>) -> Rsp
);
stream_route!(
    /// A bidirectional-streaming endpoint.
    Bidi, bidi, serve_bidi, Fn(Context, Receiver<Req>, Sender<Rsp>) -> ()
);

async fn serve_server_stream<Req, Rsp, F, Fut>(
    handler: &F,
    ctx: Context,
    io: &mut StreamIo,
) -> Result<(), Error>
where
    Req: Message,
    Rsp: Message,
    F: Fn(Context, Req, Sender<Rsp>) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let req = io.read_request::<Req>().await?;
    let (tx, rx, why) = writer_channel::<Rsp>(SEND_BUFFER, None);
    let deadline = io.deadline;
    let (mut reader, mut writer) = io.split();
    let work = async {
        let (handled, written) =
            tokio::join!(handler(ctx, req, tx), write_messages(&mut writer, rx, why));
        handled.and(written)
    };
    // The caller sends nothing more but EOS; reading still tells us when it hangs up.
    run_with_reader::<Req, ()>(&mut reader, None, work, deadline).await
}

async fn serve_client_stream<Req, Rsp, F, Fut>(
    handler: &F,
    ctx: Context,
    io: &mut StreamIo,
) -> Result<(), Error>
where
    Req: Message,
    Rsp: Message,
    F: Fn(Context, Receiver<Req>) -> Fut,
    Fut: Future<Output = Result<Rsp, Error>>,
{
    let (tx, rx) = stream::channel::<Req>(STREAM_BUFFER);
    io.deliver_initial(&tx).await?;
    let deadline = io.deadline;
    let (mut reader, _) = io.split();
    let reply = run_with_reader(&mut reader, Some(tx), handler(ctx, rx), deadline).await?;
    // As go-micro: the reply is one frame, then the final EOS frame.
    io.send_reply(&reply).await
}

async fn serve_bidi<Req, Rsp, F, Fut>(
    handler: &F,
    ctx: Context,
    io: &mut StreamIo,
) -> Result<(), Error>
where
    Req: Message,
    Rsp: Message,
    F: Fn(Context, Receiver<Req>, Sender<Rsp>) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let (in_tx, in_rx) = stream::channel::<Req>(STREAM_BUFFER);
    let (out_tx, out_rx, why) = writer_channel::<Rsp>(SEND_BUFFER, None);
    io.deliver_initial(&in_tx).await?;
    let deadline = io.deadline;
    let (mut reader, mut writer) = io.split();
    let work = async {
        let (handled, written) = tokio::join!(
            handler(ctx, in_rx, out_tx),
            write_messages(&mut writer, out_rx, why)
        );
        handled.and(written)
    };
    run_with_reader(&mut reader, Some(in_tx), work, deadline).await
}
