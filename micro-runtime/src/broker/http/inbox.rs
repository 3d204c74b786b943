//! The inbox: the HTTP server publishers POST this process's messages to (go-micro's
//! `ServeHTTP`).
//!
//! `POST /?id=<node id>` with go-micro's JSON envelope as the body. Connections are kept alive and
//! read with the transport's framing and [`Limits`]; a frame that breaks HTTP gets an error status
//! and its connection is closed, which touches no other connection.
//!
//! | reply | when |
//! |---|---|
//! | 200, empty body | the message is in the subscription's buffer |
//! | 405 | not a POST |
//! | 404 | no subscription here has that id (it ended) |
//! | 400 | the body is not the envelope, has no `Micro-Topic`, or names another topic |
//! | 503 | the subscription's buffer is full: try later, or another queue member |
//!
//! go-micro answers 200 to anything it can parse, drops messages for unknown ids silently, and
//! says 500 for unreadable ones; Go publishers discard the reply, so they are unaffected by ours.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::registration::Subscriptions;
use crate::broker::{TOPIC_HEADER, decode_envelope};
use crate::transport::{
    CONTINUE, FrameError, FrameReader, FrameWriter, Headers, Limits, StartLine,
};

// How long `stop` lets connections finish the request they are in before closing them.
const STOP_GRACE: Duration = Duration::from_secs(1);

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
        limits: Limits,
    ) -> io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (shutdown, stopping) = watch::channel(false);
        let task = tokio::spawn(accept(listener, subscriptions, limits, stopping));
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
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let for_connections = stopping.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, remote)) => {
                    let serving = serve(socket, remote, Arc::clone(&subscriptions), limits.clone(), for_connections.clone());
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

/// Serves one publisher's connection until it closes, breaks HTTP, or the inbox stops.
async fn serve(
    socket: TcpStream,
    remote: SocketAddr,
    subscriptions: Arc<Subscriptions>,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
) {
    let _ = socket.set_nodelay(true);
    let (read, write) = socket.into_split();
    let mut reader = FrameReader::new(read, limits).with_first_frame_timeout();
    let mut writer = FrameWriter::new(write);
    loop {
        let head = tokio::select! {
            head = reader.read_request_head() => head,
            () = stopped(&mut stopping) => return,
        };
        let head = match head {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(err) => return refuse(&mut writer, err, remote).await,
        };
        if head.expects_continue() && !reader.body_buffered(&head) {
            // curl waits for this before sending a large body.
            writer.queue_raw(CONTINUE);
            if writer.flush().await.is_err() {
                return;
            }
        }
        let close = head.closes_connection();
        let (method, target) = match &head.start {
            StartLine::Request { method, path } => (method.clone(), path.clone()),
            StartLine::Response { .. } => (String::new(), String::new()),
        };
        let frame = match reader.read_body(head).await {
            Ok(frame) => frame,
            Err(err) => return refuse(&mut writer, err, remote).await,
        };
        let reply = receive(&subscriptions, &method, &target, &frame.body);
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
        if writer.flush().await.is_err() || close {
            return;
        }
    }
}

/// What the inbox answers to one request.
#[derive(Debug, PartialEq, Eq)]
struct Reply {
    status: u16,
    text: String,
}

impl Reply {
    fn ok() -> Self {
        Self {
            status: 200,
            text: String::new(),
        }
    }

    fn error(status: u16, text: impl Into<String>) -> Self {
        let mut text = text.into();
        text.push('\n');
        Self { status, text }
    }
}

/// Hands one POSTed message to the subscription it names.
fn receive(subscriptions: &Subscriptions, method: &str, target: &str, body: &[u8]) -> Reply {
    if method != "POST" {
        return Reply::error(
            405,
            format!("method {method} not allowed: the broker inbox takes POST"),
        );
    }
    let id = query_id(target).unwrap_or_default();
    let Some(entry) = subscriptions.get(&id) else {
        return Reply::error(404, format!("no subscription with id {id:?} here"));
    };
    let message = match decode_envelope(body) {
        Ok(message) => message,
        Err(why) => {
            entry.sender().stats().count_malformed();
            tracing::warn!(node = %id, topic = entry.topic(), error = %why, "HTTP broker inbox: unreadable message");
            return Reply::error(400, why);
        }
    };
    match message.get(TOPIC_HEADER) {
        None | Some("") => {
            tracing::warn!(node = %id, "HTTP broker inbox: message without a Micro-Topic header");
            return Reply::error(
                400,
                "Topic not found: the message has no Micro-Topic header",
            );
        }
        Some(topic) if topic != entry.topic() => {
            tracing::warn!(node = %id, topic, expected = entry.topic(), "HTTP broker inbox: message for another topic");
            return Reply::error(
                400,
                format!(
                    "topic {topic:?} does not match subscription {id}, which is on {:?}",
                    entry.topic()
                ),
            );
        }
        Some(_) => {}
    }
    let sender = entry.sender();
    // A full buffer refuses the message, counted as dropped by the subscription: a Go publisher
    // discards our reply, so for it the message is gone. Ours keep it and retry, so a message may
    // be counted more than once before it gets in.
    if sender.offer(message) {
        return Reply::ok();
    }
    if sender.is_closed() {
        return Reply::error(404, format!("subscription {id} has ended"));
    }
    Reply::error(
        503,
        format!("subscription {id} is busy: its buffer is full, try again later"),
    )
}

/// The `id` query parameter, decoded as Go's `url.Values` does (`+` is a space); the first wins.
fn query_id(target: &str) -> Option<String> {
    let (_, query) = target.split_once('?')?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "id")
        .map(|(_, value)| value.into_owned())
}

/// Answers a request that broke HTTP with an error status; the connection then closes.
async fn refuse(writer: &mut FrameWriter<OwnedWriteHalf>, err: FrameError, remote: SocketAddr) {
    if matches!(err, FrameError::Io(_) | FrameError::UnexpectedEof) {
        tracing::debug!(%remote, error = %err, "HTTP broker inbox: connection dropped");
        return;
    }
    tracing::warn!(%remote, error = %err, "HTTP broker inbox: closing a connection after a bad request");
    let mut headers = Headers::with_capacity(2);
    headers.insert("Connection", "close");
    headers.insert("Content-Type", "text/plain; charset=utf-8");
    writer.queue_response(err.status(), &headers, format!("{err}\n").as_bytes());
    let _ = writer.flush().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_id_as_go_encodes_it() {
        assert_eq!(query_id("/?id=t-1").as_deref(), Some("t-1"));
        assert_eq!(query_id("/?x=1&id=a+b%2Fc&id=2").as_deref(), Some("a b/c"));
        assert_eq!(query_id("/"), None);
        assert_eq!(query_id("/?ids=1"), None);
    }

    #[test]
    fn unknown_ids_and_other_methods_are_refused() {
        let subscriptions = Subscriptions::default();
        assert_eq!(receive(&subscriptions, "GET", "/?id=a", b"").status, 405);
        assert_eq!(receive(&subscriptions, "POST", "/?id=a", b"{}").status, 404);
        assert_eq!(receive(&subscriptions, "POST", "/", b"{}").status, 404);
    }
}
