//! The inbox: the HTTP server publishers POST this process's messages to (go-micro's
//! `ServeHTTP`).
//!
//! `POST /?id=<node id>` with go-micro's JSON envelope as the body; `receive.rs` says what each
//! request is answered. Connections are kept alive and read with the transport's framing and
//! [`Limits`]; a frame that breaks HTTP gets an error status (413 for a body over the limit) and
//! its connection is closed, which touches no other connection.
//!
//! One bad client must not take the inbox down, so everything a client can hold is bounded: the
//! number of connections (more wait in the listen backlog), the wait for the first request's
//! headers ([`Limits::header_read_timeout`]), the time a kept-alive connection may sit idle, and
//! the time a request's body may take to arrive.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::Options;
use super::receive::{Reply, receive};
use super::registration::Subscriptions;
use crate::transport::{CONTINUE, FrameError, FrameReader, FrameWriter, Headers, StartLine};

// How long `stop` lets connections finish the request they are in before closing them.
const STOP_GRACE: Duration = Duration::from_secs(1);
// After refusing a request, how much of its body is read and thrown away, and for how long, so
// that closing does not reset the connection before the client has read the refusal.
const DRAIN_BYTES: usize = 256 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(1);

/// A running inbox.
pub(super) struct Inbox {
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Inbox {
    /// Serves `listener`, dispatching to `subscriptions`.
    pub(super) fn start(
        listener: TcpListener,
        subscriptions: Arc<Subscriptions>,
        options: Arc<Options>,
    ) -> io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (shutdown, stopping) = watch::channel(false);
        let task = tokio::spawn(accept(listener, subscriptions, options, stopping));
        Ok(Self {
            local_addr,
            shutdown,
            task: Some(task),
        })
    }

    pub(super) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting; connections end after the request in hand (within a second).
    pub(super) async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        // Dropping the accept task drops its connections with it.
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn accept(
    listener: TcpListener,
    subscriptions: Arc<Subscriptions>,
    options: Arc<Options>,
    mut stopping: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let for_connections = stopping.clone();
    loop {
        // At the limit, nothing is accepted until a connection ends.
        let room = connections.len() < options.max_connections;
        tokio::select! {
            accepted = listener.accept(), if room => match accepted {
                Ok((socket, remote)) => {
                    let serving = serve(socket, remote, Arc::clone(&subscriptions), Arc::clone(&options), for_connections.clone());
                    connections.spawn(serving);
                }
                Err(err) => {
                    // Out of file descriptors, most likely: back off instead of spinning.
                    tracing::warn!(error = %err, "HTTP broker inbox: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = stopped(&mut stopping) => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(STOP_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    // Whatever is left is aborted as `connections` drops.
}

/// Completes once the inbox is told to stop (or its owner is gone).
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}

/// Serves one publisher's connection until it closes, breaks HTTP, idles too long, or the inbox
/// stops.
async fn serve(
    socket: TcpStream,
    remote: SocketAddr,
    subscriptions: Arc<Subscriptions>,
    options: Arc<Options>,
    mut stopping: watch::Receiver<bool>,
) {
    let _ = socket.set_nodelay(true);
    let (read, write) = socket.into_split();
    let mut reader = FrameReader::new(read, options.limits.clone()).with_first_frame_timeout();
    let mut writer = FrameWriter::new(write);
    loop {
        // The first request is bounded by the header timeout; later ones by the idle timeout.
        let head = tokio::select! {
            head = tokio::time::timeout(options.idle_timeout, reader.read_request_head()) => head,
            () = stopped(&mut stopping) => return,
        };
        let head = match head {
            Ok(Ok(Some(head))) => head,
            Ok(Ok(None)) => return,
            Ok(Err(err)) => return refuse_frame(reader, writer, err, remote).await,
            Err(_idle) => {
                tracing::debug!(%remote, "HTTP broker inbox: closing an idle connection");
                return;
            }
        };
        match head.headers.get("Expect").map(str::trim) {
            None => {}
            Some(expect) if expect.eq_ignore_ascii_case("100-continue") => {
                // curl waits for this before sending a large body.
                let wanted = !reader.body_buffered(&head);
                writer.queue_raw(if wanted { CONTINUE } else { b"" });
                if writer.flush().await.is_err() {
                    return;
                }
            }
            Some(expect) => {
                let why = format!("Expect: {expect} is not supported");
                return refuse(reader, writer, 417, why, remote).await;
            }
        }
        let close = head.closes_connection();
        let (method, target) = match &head.start {
            StartLine::Request { method, path } => (method.clone(), path.clone()),
            StartLine::Response { .. } => (String::new(), String::new()),
        };
        let frame = match tokio::time::timeout(options.body_timeout, reader.read_body(head)).await {
            Ok(Ok(frame)) => frame,
            Ok(Err(err)) => return refuse_frame(reader, writer, err, remote).await,
            Err(_slow) => {
                let why = format!("the body took over {:?}", options.body_timeout);
                return refuse(reader, writer, 408, why, remote).await;
            }
        };
        let reply = receive(&subscriptions, &method, &target, &frame.body);
        // A publisher may have pipelined more messages behind a refused one; after `Connection:
        // close` none of them is read, so it can retry them all, in order, without duplicates.
        let close = close || reply.status == 503;
        if respond(&mut writer, &method, &reply, close).await.is_err() {
            return;
        }
        if close {
            return linger(reader, writer).await;
        }
    }
}

async fn respond(
    writer: &mut FrameWriter<OwnedWriteHalf>,
    method: &str,
    reply: &Reply,
    close: bool,
) -> io::Result<()> {
    let mut headers = Headers::with_capacity(3);
    if reply.status != 200 {
        headers.insert("Content-Type", "text/plain; charset=utf-8");
    }
    if reply.status == 405 {
        headers.insert("Allow", "POST");
    }
    if close {
        headers.insert("Connection", "close");
    }
    // A reply to HEAD carries no body.
    let body = if method == "HEAD" { "" } else { &reply.text };
    writer.queue_response(reply.status, &headers, body.as_bytes());
    writer.flush().await
}

/// Answers a request that broke HTTP; a connection that merely dropped gets no answer.
async fn refuse_frame(
    reader: FrameReader<OwnedReadHalf>,
    writer: FrameWriter<OwnedWriteHalf>,
    err: FrameError,
    remote: SocketAddr,
) {
    if matches!(err, FrameError::Io(_) | FrameError::UnexpectedEof) {
        tracing::debug!(%remote, error = %err, "HTTP broker inbox: connection dropped");
        return;
    }
    refuse(reader, writer, err.status(), err, remote).await;
}

/// Answers a request the inbox will not read with `status`, then closes the connection as
/// [`linger`] says, so that the client sees the answer rather than a reset.
async fn refuse(
    reader: FrameReader<OwnedReadHalf>,
    mut writer: FrameWriter<OwnedWriteHalf>,
    status: u16,
    why: impl std::fmt::Display,
    remote: SocketAddr,
) {
    tracing::warn!(%remote, status, error = %why, "HTTP broker inbox: closing a connection after a bad request");
    let mut headers = Headers::with_capacity(2);
    headers.insert("Connection", "close");
    headers.insert("Content-Type", "text/plain; charset=utf-8");
    writer.queue_response(status, &headers, format!("{why}\n").as_bytes());
    if writer.flush().await.is_ok() {
        linger(reader, writer).await;
    }
}

/// Closes a connection whose last answer is written: the write side first, then, after reading
/// off a bounded amount of what the client is still sending (a body, or requests it pipelined),
/// the rest. Closing with unread bytes would reset the connection, and a reset can destroy the
/// answer before the client reads it (Go's server lingers the same way).
async fn linger(reader: FrameReader<OwnedReadHalf>, mut writer: FrameWriter<OwnedWriteHalf>) {
    if writer.get_mut().shutdown().await.is_err() {
        return;
    }
    let mut read = reader.into_inner();
    let mut sink = vec![0u8; 16 * 1024];
    let mut drained = 0;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while drained < DRAIN_BYTES {
            match read.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    })
    .await;
}
