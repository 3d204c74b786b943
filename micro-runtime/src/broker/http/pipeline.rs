//! One pipelined exchange: several requests written back to back on one connection, their
//! replies read in order (HTTP/1.1 pipelining). Our inbox and Go's `net/http` server both read a
//! connection's requests one after another and answer each before reading the next, so replies
//! come in request order, and a window of N requests costs about one round trip instead of N.
//!
//! Replies are read while the requests are written: a subscriber that refuses a message (413,
//! too large) answers and closes without reading the rest, and that answer must be seen rather
//! than the broken pipe that follows it. What a request whose reply never came proves (see the
//! table in `post.rs`):
//!
//! - after a reply saying `Connection: close`, the server reads no further request (RFC 9112
//!   §9.6), so the requests behind it were surely not delivered;
//! - a request not written in full was not delivered (a server acts only on a complete body);
//! - on a *reused* connection that failed before a single byte of a reply, the subscriber most
//!   likely closed it while idle, as we sent: the caller sends the window again, once, on a fresh
//!   connection (what HTTP clients do). On a reused connection only the first request is written
//!   until its reply comes, so that guess can only ever repeat one message, never a window;
//! - any other request that was written may have been delivered: unknown.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::post::status_of;
use crate::transport::FrameError;
use crate::transport::pool::HttpConn;

/// How one request of an exchange failed.
pub(super) enum Failed {
    NotSent(String),
    // Nothing came back on a reused connection: it was most likely closed as we sent.
    Stale(String),
    Unknown(String),
}

// Why the replies stopped before the last request's.
enum Stop {
    // A reply said `Connection: close`.
    Closed,
    Eof,
    Error(FrameError),
    Timeout,
}

/// Writes `wire` (the requests, request `i` ending at byte `ends[i]`) and reads one reply per
/// request: each request's status or failure, and the connection if it stays open.
pub(super) async fn exchange(
    mut conn: HttpConn,
    wire: &[u8],
    ends: &[usize],
    timeout: Duration,
    reused: bool,
) -> (Vec<Result<u16, Failed>>, Option<HttpConn>) {
    // The reply timeout is per reply: each reply restarts it, since a Go subscriber answers only
    // after its handler ran, one request after another.
    let progress = Mutex::new(Instant::now());
    // On a reused connection, the rest of the window waits for the first reply (see above).
    let first_reply = Notify::new();
    let hold_after = if reused { ends.first().copied() } else { None };
    // Atomic (and the Mutex above) only to be shared between the writing and reading futures;
    // everything runs on this task, so neither is ever contended.
    let written = AtomicUsize::new(0);
    let mut write_failed = None;
    let mut write_done = false;
    let mut statuses = Vec::with_capacity(ends.len());
    let stop;
    let mut bodies_read = true;
    {
        let (reader, writer) = (&mut conn.reader, conn.writer.get_mut());
        let writing = async {
            let mut held = hold_after;
            loop {
                let from = written.load(Ordering::Relaxed);
                if from == wire.len() {
                    return Ok(());
                }
                let until = match held {
                    Some(end) if from == end => {
                        first_reply.notified().await;
                        held = None;
                        continue;
                    }
                    Some(end) => end,
                    None => wire.len(),
                };
                match writer.write(&wire[from..until]).await {
                    Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                    Ok(n) => written.store(from + n, Ordering::Relaxed),
                    Err(err) => return Err(err),
                }
            }
        };
        let reading = async {
            while statuses.len() < ends.len() {
                let head = match reader.read_response_head().await {
                    Ok(Some(head)) => head,
                    Ok(None) => return Some(Stop::Eof),
                    Err(err) => return Some(Stop::Error(err)),
                };
                statuses.push(status_of(&head.start));
                *progress.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
                first_reply.notify_one();
                let closes = head.closes_connection();
                // The status is what matters; a body that does not arrive only costs the
                // connection, and with it the replies behind.
                if let Err(err) = reader.read_body(head).await {
                    bodies_read = false;
                    return Some(Stop::Error(err));
                }
                if closes {
                    return Some(Stop::Closed);
                }
            }
            None
        };
        let patience = tokio::time::sleep(timeout);
        tokio::pin!(writing, reading, patience);
        stop = loop {
            tokio::select! {
                biased;
                end = &mut reading => break end,
                done = &mut writing, if !write_done => {
                    write_done = true;
                    write_failed = done.err();
                }
                () = &mut patience => {
                    let due = *progress.lock().unwrap_or_else(|e| e.into_inner()) + timeout;
                    if Instant::now() >= due {
                        break Some(Stop::Timeout);
                    }
                    patience.as_mut().reset(due);
                }
            }
        };
    }
    let written = written.into_inner();
    let reusable = stop.is_none() && bodies_read && written == wire.len();
    let mut results: Vec<Result<u16, Failed>> = statuses.into_iter().map(Ok).collect();
    let replied = results.len();
    // Nothing came back at all, and the connection (rather than our patience) ended it.
    let stale = reused
        && replied == 0
        && !conn.reader.has_buffered()
        && matches!(stop, Some(Stop::Eof | Stop::Error(FrameError::Io(_))));
    for &end in &ends[replied..] {
        let why = match &stop {
            Some(Stop::Closed) => Failed::NotSent("the subscriber closed the connection".into()),
            _ if end > written => Failed::NotSent(match &write_failed {
                Some(err) => format!("sending failed: {err}"),
                None => format!("not sent within {timeout:?}"),
            }),
            _ if stale => Failed::Stale("closed before answering".into()),
            Some(Stop::Eof) => Failed::Unknown("closed before answering".into()),
            Some(Stop::Error(err)) => Failed::Unknown(format!("no answer: {err}")),
            Some(Stop::Timeout) | None => Failed::Unknown(format!("no answer within {timeout:?}")),
        };
        results.push(Err(why));
    }
    (results, reusable.then_some(conn))
}
