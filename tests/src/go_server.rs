//! A stand-in go-micro server for client replay tests: it accepts a client's connection, reads
//! the request frames the client sends, and answers with bytes a real go-micro v6.10.0 server sent
//! (`go-micro-wire/*/s2c.bin`), whole or one byte per write.
//!
//! go-micro's server writes its replies unbuffered, in dozens of tiny TCP segments (the corpus
//! README); one byte per write with `TCP_NODELAY` makes a client's reader meet every split.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use micro_runtime::transport::{Frame, FrameReader, Limits};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

/// How long the server waits, before it closes, for a client that should have given up by itself.
pub const CLOSE_PAUSE: Duration = Duration::from_millis(300);

/// One exchange: read `read` request frames, then write `reply` (which may be empty).
#[derive(Clone, Debug)]
pub struct Step {
    read: usize,
    reply: Vec<u8>,
    gate: Option<Arc<Notify>>,
}

impl Step {
    /// Reads `read` request frames, then writes `reply`.
    pub fn new(read: usize, reply: Vec<u8>) -> Self {
        Self {
            read,
            reply,
            gate: None,
        }
    }

    /// Writes the reply only once `gate` is notified: a late reply, after the client gave up.
    pub fn after(mut self, gate: Arc<Notify>) -> Self {
        self.gate = Some(gate);
        self
    }
}

/// What the server does once its steps are done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Keeps the connection open, recording requests, until the client hangs up.
    Hold,
    /// Waits [`CLOSE_PAUSE`], then closes the connection.
    Close,
}

/// A running stand-in server.
#[derive(Debug)]
pub struct GoServer {
    /// Where it listens.
    pub address: SocketAddr,
    /// Every request frame read on the first connection, in order.
    pub requests: mpsc::UnboundedReceiver<Frame>,
    connections: Arc<AtomicUsize>,
    closed: Arc<AtomicBool>,
    accept: JoinHandle<()>,
    done: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl GoServer {
    /// Listens on a free loopback port and plays `steps` on the first connection; later
    /// connections are only counted.
    pub async fn start(steps: Vec<Step>, end: End, bytewise: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (tx, requests) = mpsc::unbounded_channel();
        let (done_tx, done) = tokio::sync::oneshot::channel();
        let connections = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicBool::new(false));
        let (count, closing) = (Arc::clone(&connections), Arc::clone(&closed));
        let accept = tokio::spawn(async move {
            let mut plan = Some((steps, tx, done_tx));
            let mut later = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let Some((steps, tx, done_tx)) = plan.take() else {
                    later.push(socket);
                    continue;
                };
                let closing = Arc::clone(&closing);
                tokio::spawn(async move {
                    socket.set_nodelay(true).unwrap();
                    let (read, mut write) = socket.into_split();
                    let mut reader = FrameReader::new(read, Limits::default());
                    play(&mut reader, &mut write, &steps, &tx, bytewise).await;
                    if end == End::Close {
                        tokio::time::sleep(CLOSE_PAUSE).await;
                        closing.store(true, Ordering::SeqCst);
                        drop((reader, write));
                    } else {
                        while let Ok(Some(frame)) = reader.read_request().await {
                            let _ = tx.send(frame);
                        }
                    }
                    let _ = done_tx.send(());
                });
            }
        });
        Self {
            address,
            requests,
            connections,
            closed,
            accept,
            done: Some(done),
        }
    }

    /// How many connections clients have opened so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Whether the server has closed the first connection ([`End::Close`]).
    pub fn closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Waits until the first connection is over (the client hung up, or the server closed), then
    /// returns every request frame it read (since the last `finish`).
    pub async fn finish(&mut self) -> Vec<Frame> {
        if let Some(done) = self.done.take() {
            tokio::time::timeout(Duration::from_secs(20), done)
                .await
                .expect("the client hangs up the first connection")
                .expect("the connection was served");
        }
        let mut out = Vec::new();
        while let Ok(frame) = self.requests.try_recv() {
            out.push(frame);
        }
        out
    }
}

impl Drop for GoServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn play<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    reader: &mut FrameReader<R>,
    write: &mut W,
    steps: &[Step],
    tx: &mpsc::UnboundedSender<Frame>,
    bytewise: bool,
) {
    for step in steps {
        for _ in 0..step.read {
            match reader.read_request().await {
                Ok(Some(frame)) => {
                    let _ = tx.send(frame);
                }
                // The client hung up or sent garbage: the test's checks on the requests say so.
                _ => return,
            }
        }
        if let Some(gate) = &step.gate {
            gate.notified().await;
        }
        if write_reply(write, &step.reply, bytewise).await.is_err() {
            return;
        }
    }
}

async fn write_reply<W: AsyncWrite + Unpin>(
    write: &mut W,
    bytes: &[u8],
    bytewise: bool,
) -> std::io::Result<()> {
    if bytewise {
        for byte in bytes {
            write.write_all(std::slice::from_ref(byte)).await?;
        }
    } else {
        write.write_all(bytes).await?;
    }
    write.flush().await
}

/// Cuts `wire` (a server's bytes) into its response frames' original bytes, as micro's own frame
/// reader delimits them.
pub async fn response_frames(wire: &[u8]) -> Vec<Vec<u8>> {
    let mut reader = FrameReader::new(Trickle(wire), Limits::default());
    let (mut out, mut start) = (Vec::new(), 0);
    while reader
        .read_response()
        .await
        .expect("go-micro's bytes parse")
        .is_some()
    {
        assert!(!reader.has_buffered(), "a one-byte reader reads no further");
        let end = wire.len() - reader.get_ref().0.len();
        out.push(wire[start..end].to_vec());
        start = end;
    }
    assert_eq!(start, wire.len(), "every byte belongs to a frame");
    out
}

/// Every request frame in `wire` (a client's bytes).
pub async fn request_frames(wire: &[u8]) -> Vec<Frame> {
    let mut reader = FrameReader::new(wire, Limits::default());
    let mut out = Vec::new();
    while let Some(frame) = reader.read_request().await.expect("go-micro's bytes parse") {
        out.push(frame);
    }
    out
}

/// Hands out one byte per read, so a frame reader never reads past the frame it is parsing and
/// what is left shows where each frame ended.
struct Trickle<'a>(&'a [u8]);

impl AsyncRead for Trickle<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some((first, rest)) = self.0.split_first() {
            buf.put_slice(std::slice::from_ref(first));
            self.0 = rest;
        }
        Poll::Ready(Ok(()))
    }
}
