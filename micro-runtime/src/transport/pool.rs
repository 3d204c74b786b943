//! The client side's one HTTP/1.1 connection, [`ClientConn`], and its [`Pool`] of idle ones per
//! address: what RPC calls and the HTTP broker's deliveries both dial with.
//!
//! Unary calls borrow an idle connection (most recently used first, as go-micro's pool), send one
//! frame, read one, and give it back. Streams always dial their own connection, as go-micro does.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::Instant;

use super::{FrameReader, FrameWriter, Limits};

/// A connection to one server.
pub(crate) struct ClientConn {
    pub(crate) reader: FrameReader<OwnedReadHalf>,
    pub(crate) writer: FrameWriter<OwnedWriteHalf>,
    created: Instant,
}

impl ClientConn {
    /// Dials `address` within `timeout`.
    pub(crate) async fn dial(
        address: &str,
        timeout: Duration,
        limits: &Limits,
    ) -> std::io::Result<ClientConn> {
        let socket = tokio::time::timeout(timeout, TcpStream::connect(address))
            .await
            .map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("dial timeout after {timeout:?}"),
                )
            })??;
        socket.set_nodelay(true)?;
        let (read, write) = socket.into_split();
        Ok(ClientConn {
            reader: FrameReader::new(read, limits.clone()),
            writer: FrameWriter::new(write),
            created: Instant::now(),
        })
    }

    /// Whether an idle connection can carry another call: the server has not closed it and sent
    /// nothing unasked.
    pub(crate) fn is_reusable(&self) -> bool {
        let mut probe = [0u8; 1];
        matches!(
            self.reader.get_ref().try_read(&mut probe),
            Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock
        )
    }
}

/// Idle connections by address.
pub(crate) struct Pool {
    idle: Mutex<HashMap<String, Vec<ClientConn>>>,
    size: usize,
    ttl: Duration,
}

impl Pool {
    pub(crate) fn new(size: usize, ttl: Duration) -> Self {
        Self {
            idle: Mutex::new(HashMap::new()),
            size,
            ttl,
        }
    }

    /// An idle connection to `address` that is still usable, if there is one.
    pub(crate) fn take(&self, address: &str) -> Option<ClientConn> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let conns = idle.get_mut(address)?;
        while let Some(conn) = conns.pop() {
            if conn.created.elapsed() < self.ttl && conn.is_reusable() {
                return Some(conn);
            }
        }
        None
    }

    /// Gives a connection back after a call that completed cleanly.
    pub(crate) fn put(&self, address: &str, conn: ClientConn) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let conns = idle.entry(address.to_string()).or_default();
        if conns.len() < self.size {
            conns.push(conn);
        }
    }
}
