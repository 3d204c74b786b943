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
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::router::StreamRoute;
use crate::codec::{ContentType, Message};
use crate::context::Context;
use crate::error::{Error, SERVER_ID};
use crate::registry::BoxFuture;
use crate::stream::{self, Receiver, Sender};
use crate::transport::{FrameReader, FrameTemplate, FrameWriter, Headers};

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
    pub(crate) reader: FrameReader<OwnedReadHalf>,
    pub(crate) writer: FrameWriter<OwnedWriteHalf>,
    pub(crate) content_type: ContentType,
    /// Headers of every frame the server sends (Content-Type, Micro-Id, Micro-Stream, ...).
    pub(crate) headers: Headers,
    /// Those headers rendered once, for the message frames.
    pub(crate) template: FrameTemplate,
    /// The first message, when the caller put it in the init frame (a client that is not
    /// go-micro's, so sent no `Micro-Stream`); go-micro clients send an empty init frame.
    pub(crate) initial: Option<Bytes>,
    pub(crate) deadline: Option<tokio::time::Instant>,
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
            Ok(Some(frame)) => frame,
            Ok(None) => return ReadEnd::Gone,
            Err(err) => {
                if let Some(tx) = &tx {
                    tx.fail(Error::bad_request(
                        SERVER_ID,
                        format!("broken stream: {err}"),
                    ))
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

/// Writes what the handler sends, batching messages that are already waiting into one write.
async fn write_messages<Rsp: Message>(
    io: &mut StreamIoWriter<'_>,
    mut rx: Receiver<Rsp>,
) -> Result<(), Error> {
    let gone = |e: std::io::Error| Error::new(SERVER_ID, format!("the caller went away: {e}"), 499);
    while let Some(message) = rx.recv().await? {
        let ct = io.content_type;
        ct.queue_frame(io.writer, io.template, &message)?;
        while io.writer.buffered() < WRITE_BATCH_BYTES {
            match rx.try_recv() {
                Some(message) => ct.queue_frame(io.writer, io.template, &message?)?,
                None => break,
            }
        }
        io.writer.flush().await.map_err(gone)?;
    }
    Ok(())
}

struct StreamIoReader<'a> {
    reader: &'a mut FrameReader<OwnedReadHalf>,
    content_type: ContentType,
}

struct StreamIoWriter<'a> {
    writer: &'a mut FrameWriter<OwnedWriteHalf>,
    template: &'a FrameTemplate,
    content_type: ContentType,
}

impl StreamIo {
    fn split(&mut self) -> (StreamIoReader<'_>, StreamIoWriter<'_>) {
        (
            StreamIoReader {
                reader: &mut self.reader,
                content_type: self.content_type,
            },
            StreamIoWriter {
                writer: &mut self.writer,
                template: &self.template,
                content_type: self.content_type,
            },
        )
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
        let ended = || Error::bad_request(SERVER_ID, "the stream ended before its request arrived");
        match self.reader.read_request().await {
            Ok(Some(frame)) if frame.headers.get_micro("Micro-Error").is_some() => Err(ended()),
            Ok(Some(frame)) => self.content_type.decode(frame.body),
            Ok(None) => Err(ended()),
            Err(err) => Err(Error::bad_request(
                SERVER_ID,
                format!("broken stream: {err}"),
            )),
        }
    }

    /// Sends one message outside the handler's stream (a client-streaming call's reply).
    async fn send_reply<Rsp: Message>(&mut self, reply: &Rsp) -> Result<(), Error> {
        let ct = self.content_type;
        ct.queue_frame(&mut self.writer, &self.template, reply)?;
        self.writer
            .flush()
            .await
            .map_err(|e| Error::new(SERVER_ID, format!("the caller went away: {e}"), 499))
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
                .unwrap_or_else(|_| Err(Error::timeout(SERVER_ID, "stream deadline exceeded"))),
            None => work.await,
        }
    };
    tokio::pin!(work);
    let read = read_messages(reader, tx);
    tokio::pin!(read);
    tokio::select! {
        result = &mut work => result,
        end = &mut read => match end {
            ReadEnd::Closed => work.await,
            ReadEnd::Gone => Err(Error::new(SERVER_ID, "the caller went away", 499)),
        },
    }
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
                Box::pin(async move {
                    let result = $serve::<Req, Rsp, F, Fut>(&*handler, ctx, &mut io).await;
                    (result, io)
                })
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
    let (tx, rx) = stream::channel::<Rsp>(SEND_BUFFER);
    let deadline = io.deadline;
    let (mut reader, mut writer) = io.split();
    let work = async {
        let (handled, written) =
            tokio::join!(handler(ctx, req, tx), write_messages(&mut writer, rx));
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
    let (out_tx, out_rx) = stream::channel::<Rsp>(SEND_BUFFER);
    io.deliver_initial(&in_tx).await?;
    let deadline = io.deadline;
    let (mut reader, mut writer) = io.split();
    let work = async {
        let (handled, written) = tokio::join!(
            handler(ctx, in_rx, out_tx),
            write_messages(&mut writer, out_rx)
        );
        handled.and(written)
    };
    run_with_reader(&mut reader, Some(in_tx), work, deadline).await
}
