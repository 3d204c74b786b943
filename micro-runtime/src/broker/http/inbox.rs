//! The inbox: the HTTP server publishers POST this process's messages to (go-micro's
//! `ServeHTTP`).
//!
//! `POST /?id=<node id>` with go-micro's JSON envelope as the body; `receive.rs` says what each
//! request is answered. Connections are served by the transport's one HTTP/1.1 core
//! ([`ServerConn`], accepted through [`Acceptor`]) with the broker's [`Limits`](crate::transport::Limits), the same limits an
//! RPC server has: a request that breaks HTTP gets an error status (413 for a body over the limit,
//! 408 for a stalled one) and its connection is closed, which touches no other connection; the
//! connections one client may hold, and all of them together, are capped; idle ones are closed.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::Options;
use super::receive::{Reply, receive};
use super::registration::Subscriptions;
use crate::transport::accept::Acceptor;
use crate::transport::halves::WriteHalf;
use crate::transport::server_conn::{Incoming, ServerConn};
use crate::transport::{BodyBudget, Headers, StartLine};

// How long `stop` lets connections finish the request they are in before closing them.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// What a connection over the inbox's caps is answered before it is closed. micro's publishers
/// retry a 503 later.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Length: 21\r\n\r\ntoo many connections\n";

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
    let mut acceptor = Acceptor::new(listener, &options.limits, REFUSAL, "HTTP broker inbox");
    let budget = BodyBudget::new(options.limits.max_pending_body_bytes);
    loop {
        tokio::select! {
            (accepted, slot) = acceptor.accept() => {
                let conn = ServerConn::new(accepted, &options.limits, &budget, slot);
                connections.spawn(serve(conn, Arc::clone(&subscriptions), stopping.clone()));
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = stopped(&mut stopping) => break,
        }
    }
    drop(acceptor);
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
    mut conn: ServerConn,
    subscriptions: Arc<Subscriptions>,
    mut stopping: watch::Receiver<bool>,
) {
    loop {
        let (frame, close) = match conn.next(stopped(&mut stopping)).await {
            Incoming::Request { frame, close } => (frame, close),
            Incoming::Closed => return,
            Incoming::Refused { status, why } => return refuse(conn, status, why).await,
        };
        let (method, target) = match &frame.start {
            StartLine::Request { method, path } => (method.as_str(), path.as_str()),
            StartLine::Response { .. } => ("", ""),
        };
        let reply = receive(&subscriptions, method, target, &frame.body);
        // A publisher may have pipelined more messages behind a refused one; after `Connection:
        // close` none of them is read, so it can retry them all, in order, without duplicates.
        let close = close || reply.status == 503;
        if close {
            let (headers, body) = reply_parts(method, &reply);
            return conn
                .close_with(reply.status, headers, body.as_bytes())
                .await;
        }
        if respond(&mut conn.writer, method, &reply).await.is_err() {
            return;
        }
    }
}

/// The headers and body of a reply; a reply to HEAD carries no body.
fn reply_parts<'a>(method: &str, reply: &'a Reply) -> (Headers, &'a str) {
    let mut headers = Headers::with_capacity(3);
    if reply.status != 200 {
        headers.insert("Content-Type", "text/plain; charset=utf-8");
    }
    if reply.status == 405 {
        headers.insert("Allow", "POST");
    }
    let body = if method == "HEAD" { "" } else { &reply.text };
    (headers, body)
}

async fn respond(writer: &mut WriteHalf, method: &str, reply: &Reply) -> io::Result<()> {
    let (headers, body) = reply_parts(method, reply);
    writer.queue_response(reply.status, &headers, body.as_bytes());
    writer.flush().await
}

/// Answers a request the inbox will not read with `status`, then closes the connection.
async fn refuse(conn: ServerConn, status: u16, why: String) {
    tracing::warn!(remote = ?conn.remote, status, error = %why, "HTTP broker inbox: closing a connection after a bad request");
    let mut headers = Headers::with_capacity(1);
    headers.insert("Content-Type", "text/plain; charset=utf-8");
    conn.close_with(status, headers, format!("{why}\n").as_bytes())
        .await;
}
