//! Accepting connections within limits: a cap on connections in all and per peer address, and
//! accept errors backed off and logged at a bounded rate.
//!
//! Every listener micro serves (the RPC server, the HTTP broker's inbox) accepts through
//! [`Acceptor`], so one client cannot take every slot, and a full file table (`EMFILE`) neither
//! spins the loop nor floods the log.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::{Headers, Limits, Listener, Message, Socket};

/// Connections kept back from the open-files limit for everything else a process opens.
const FILES_KEPT_BACK: u64 = 128;
/// At most this many refusals are being written at once; past it, excess connections are dropped
/// without an answer rather than costing a task each.
const REFUSING_AT_ONCE: usize = 64;
/// How long a refusal may take to write and linger.
const REFUSE_TIME: Duration = Duration::from_secs(1);

/// The default for [`Limits::max_connections`]: 4096, or the soft open-files limit less some room.
pub(crate) fn default_max_connections() -> usize {
    let soft = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(u64::MAX, |(soft, _)| soft);
    let below_files = soft.saturating_sub(FILES_KEPT_BACK).max(64);
    usize::try_from(below_files.min(4096)).unwrap_or(4096)
}

/// Connections open now, in all and per peer address.
#[derive(Default)]
struct Open {
    total: usize,
    per_peer: HashMap<IpAddr, usize>,
}

/// A served connection's place in the count; freed when dropped.
pub(crate) struct Slot {
    open: Arc<Mutex<Open>>,
    peer: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.total -= 1;
        if let Some(n) = open.per_peer.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                open.per_peer.remove(&self.peer);
            }
        }
    }
}

/// Where connections come from: a TCP listener (micro's HTTP transport), or another transport's.
enum Source {
    Tcp(TcpListener),
    Socket(Box<dyn Listener>),
}

/// A connection let in.
pub(crate) enum Accepted {
    /// A TCP connection for the HTTP transport, and its peer.
    Tcp(TcpStream, SocketAddr),
    /// Another transport's connection.
    Socket(Socket),
}

/// The peer a connection of another transport is counted under: its IP when its address is a
/// socket address, else one shared bucket (`0.0.0.0`).
pub(crate) fn socket_peer(socket: &Socket) -> Option<SocketAddr> {
    socket.remote.parse().ok()
}

/// Accepts connections from a listener within [`Limits::max_connections`] and
/// [`Limits::max_connections_per_peer`].
pub(crate) struct Acceptor {
    listener: Source,
    max_total: usize,
    max_per_peer: usize,
    open: Arc<Mutex<Open>>,
    refusing: Arc<Semaphore>,
    refusal: &'static [u8],
    what: &'static str,
    errors: RateLimited,
    refused: RateLimited,
}

impl Acceptor {
    /// Accepts from `listener`; `refusal` is the whole HTTP response a connection over a cap gets,
    /// and `what` names the listener in logs.
    pub(crate) fn new(
        listener: TcpListener,
        limits: &Limits,
        refusal: &'static [u8],
        what: &'static str,
    ) -> Self {
        Self::from_source(Source::Tcp(listener), limits, refusal, what)
    }

    /// Accepts from another transport's listener; connections over a cap get a 503 message.
    pub(crate) fn from_listener(
        listener: Box<dyn Listener>,
        limits: &Limits,
        what: &'static str,
    ) -> Self {
        Self::from_source(Source::Socket(listener), limits, b"", what)
    }

    fn from_source(
        listener: Source,
        limits: &Limits,
        refusal: &'static [u8],
        what: &'static str,
    ) -> Self {
        Self {
            listener,
            max_total: limits.max_connections.max(1),
            max_per_peer: limits.max_connections_per_peer.max(1),
            open: Arc::default(),
            refusing: Arc::new(Semaphore::new(REFUSING_AT_ONCE)),
            refusal,
            what,
            errors: RateLimited::new(),
            refused: RateLimited::new(),
        }
    }

    /// The next connection within the caps. Connections over a cap are answered with the refusal
    /// and closed; accept errors are retried after a growing pause. Cancel-safe.
    pub(crate) async fn accept(&mut self) -> (Accepted, Slot) {
        let mut backoff = Duration::from_millis(5);
        loop {
            let accepted = match &mut self.listener {
                Source::Tcp(listener) => listener
                    .accept()
                    .await
                    .map(|(socket, remote)| Accepted::Tcp(socket, remote)),
                Source::Socket(listener) => listener.accept().await.map(Accepted::Socket),
            };
            let accepted = match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, most likely: back off instead of spinning, and say
                    // so once a second at most.
                    if let Some(suppressed) = self.errors.ready() {
                        tracing::warn!(listener = self.what, error = %err, suppressed, "accept failed; backing off");
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            let peer = match &accepted {
                Accepted::Tcp(_, remote) => remote.ip(),
                Accepted::Socket(socket) => socket_peer(socket)
                    .map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |a| a.ip()),
            };
            match self.admit(peer) {
                Some(slot) => return (accepted, slot),
                None => self.refuse(accepted, peer),
            }
        }
    }

    fn admit(&self, peer: IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let from_peer = open.per_peer.get(&peer).copied().unwrap_or(0);
        if open.total >= self.max_total || from_peer >= self.max_per_peer {
            return None;
        }
        open.total += 1;
        *open.per_peer.entry(peer).or_default() += 1;
        Some(Slot {
            open: Arc::clone(&self.open),
            peer,
        })
    }

    /// Answers a connection over a cap and closes it, in a task of its own (a bounded number).
    fn refuse(&mut self, accepted: Accepted, peer: IpAddr) {
        if let Some(suppressed) = self.refused.ready() {
            let (max_total, max_per_peer) = (self.max_total, self.max_per_peer);
            tracing::warn!(listener = self.what, %peer, max_total, max_per_peer, suppressed, "connection limit reached; refusing connections");
        }
        let Ok(permit) = Arc::clone(&self.refusing).try_acquire_owned() else {
            return; // dropped: already refusing as many as we afford
        };
        let refusal = self.refusal;
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tokio::time::timeout(REFUSE_TIME, async {
                match accepted {
                    Accepted::Tcp(mut socket, _) => {
                        socket.write_all(refusal).await?;
                        socket.shutdown().await?;
                        // Read off what the client sent, so closing does not reset the connection
                        // before it has read the refusal.
                        let mut sink = [0u8; 4096];
                        while socket.read(&mut sink).await? > 0 {}
                    }
                    Accepted::Socket(mut socket) => {
                        socket.writer.send(too_many_connections()).await?;
                        socket.writer.flush().await?;
                        socket.writer.close().await?;
                    }
                }
                io::Result::Ok(())
            })
            .await;
        });
    }
}

/// The refusal another transport's connection over a cap gets: go-micro's 503 error.
fn too_many_connections() -> Message {
    let error = crate::Error::unavailable("too many connections").with_id("go.micro.server");
    let mut headers = Headers::with_capacity(2);
    headers.insert("Content-Type", "application/json");
    headers.insert("Micro-Error", error.to_header_value());
    Message::new(headers, error.to_json())
}

/// Lets an event be logged at most once a second, counting the ones in between.
pub(crate) struct RateLimited {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimited {
    /// Nothing logged yet.
    pub(crate) fn new() -> Self {
        Self {
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(suppressed since the last log)` when this occurrence should be logged.
    pub(crate) fn ready(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < Duration::from_secs(1))
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn logs_once_a_second_and_counts_the_rest() {
        let mut log = RateLimited::new();
        assert_eq!(log.ready(), Some(0));
        assert_eq!(log.ready(), None);
        assert_eq!(log.ready(), None);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(log.ready(), Some(2));
    }

    #[tokio::test]
    async fn caps_connections_in_all_and_per_peer() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let limits = Limits {
            max_connections: 3,
            max_connections_per_peer: 2,
            ..Limits::default()
        };
        let acceptor = Acceptor::new(listener, &limits, b"", "test");
        let a = "127.0.0.1".parse().unwrap();
        let b = "127.0.0.2".parse().unwrap();
        let first = acceptor.admit(a).unwrap();
        let _second = acceptor.admit(a).unwrap();
        assert!(acceptor.admit(a).is_none(), "a third from one peer");
        let _third = acceptor.admit(b).unwrap();
        drop(first);
        let _fourth = acceptor
            .admit(b)
            .expect("a slot freed by a closed connection");
        assert!(acceptor.admit(a).is_none(), "three in all");
    }
}
