//! The client side's connections: [`HttpConn`], the one HTTP/1.1 connection that RPC calls and the
//! HTTP broker's deliveries both dial; [`ClientConn`], an RPC connection on any transport; and the
//! [`Pool`] of idle ones per address.
//!
//! Unary calls borrow an idle connection (most recently used first, as go-micro's pool), send one
//! frame, read one, and give it back. Streams always dial their own connection, as go-micro does.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::Instant;

use super::halves::{ReadHalf, WriteHalf};
use super::{FrameReader, FrameWriter, Limits, Transport, is_http};

/// A connection to one server.
pub(crate) struct ClientConn {
    pub(crate) reader: ReadHalf,
    pub(crate) writer: WriteHalf,
    created: Instant,
}

impl ClientConn {
    /// Dials `address` with `transport` within `timeout`: micro's own HTTP transport directly,
    /// any other through its [`Transport::dial`].
    pub(crate) async fn connect(
        transport: &dyn Transport,
        address: &str,
        timeout: Duration,
        limits: &Limits,
    ) -> std::io::Result<ClientConn> {
        if is_http(transport) {
            let conn = HttpConn::dial(address, timeout, limits).await?;
            return Ok(ClientConn {
                reader: ReadHalf::Http(conn.reader),
                writer: WriteHalf::Http(conn.writer),
                created: conn.created,
            });
        }
        let socket = tokio::time::timeout(timeout, transport.dial(address, timeout))
            .await
            .map_err(|_| dial_timeout(timeout))??;
        Ok(ClientConn {
            reader: ReadHalf::Socket(socket.reader),
            writer: WriteHalf::socket(socket.writer),
            created: Instant::now(),
        })
    }

    /// Whether an idle connection can carry another call: the server has not closed it and sent
    /// nothing unasked.
    pub(crate) fn is_reusable(&self) -> bool {
        self.reader.is_reusable()
    }
}

/// A TCP connection to one HTTP/1.1 server, for go-micro's framing.
pub(crate) struct HttpConn {
    pub(crate) reader: FrameReader<OwnedReadHalf>,
    pub(crate) writer: FrameWriter<OwnedWriteHalf>,
    created: Instant,
}

impl HttpConn {
    /// Dials `address` over TCP within `timeout`.
    pub(crate) async fn dial(
        address: &str,
        timeout: Duration,
        limits: &Limits,
    ) -> std::io::Result<HttpConn> {
        let socket = tokio::time::timeout(timeout, TcpStream::connect(address))
            .await
            .map_err(|_| dial_timeout(timeout))??;
        socket.set_nodelay(true)?;
        let (read, write) = socket.into_split();
        Ok(HttpConn {
            reader: FrameReader::new(read, limits.clone()),
            writer: FrameWriter::new(write),
            created: Instant::now(),
        })
    }

    /// Whether an idle connection can carry another request: the server has not closed it and
    /// sent nothing unasked.
    pub(crate) fn is_reusable(&self) -> bool {
        super::http::is_open(&self.reader)
    }
}

fn dial_timeout(timeout: Duration) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("dial timeout after {timeout:?}"),
    )
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
