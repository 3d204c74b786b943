//! [`InProcess`]: a transport whose connections are pairs of tokio channels, for services that
//! share one process (tests, a modular monolith, a single binary of several services).
//!
//! Messages cross as they are, headers and body, with no encoding or socket: a call costs two
//! channel hops. Each direction is a bounded channel, so a fast sender waits for a slow reader as
//! it would on TCP. Servers and clients that share one `InProcess` (clones share it too) reach
//! each other; different instances are different networks.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use micro_runtime::registry::BoxFuture;
use micro_runtime::transport::{
    FrameError, Listener, Message, Socket, SocketReader, SocketWriter, Transport,
};
use micro_runtime::{LocalError, LocalErrorKind};
use tokio::sync::mpsc;

/// Messages waiting in each direction of a connection before the sender waits.
const DIRECTION_BUFFER: usize = 64;
/// Connections waiting for a listener to accept them before a dial waits.
const ACCEPT_BACKLOG: usize = 128;

/// An in-process transport. Listening on `host:0` (a server's default address) takes a fresh
/// address `inproc:N`; any other address is taken as a name, and a second listener on a name
/// in use is refused.
#[derive(Clone, Debug, Default)]
pub struct InProcess {
    hub: Arc<Hub>,
}

#[derive(Debug, Default)]
struct Hub {
    listeners: Mutex<HashMap<String, mpsc::Sender<Socket>>>,
    next: AtomicU64,
}

impl InProcess {
    /// A network of its own, with no listeners yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn fresh(&self, what: &str) -> String {
        format!(
            "inproc:{what}{}",
            self.hub.next.fetch_add(1, Ordering::Relaxed)
        )
    }
}

impl Transport for InProcess {
    fn name(&self) -> &str {
        "inproc"
    }

    fn listen<'a>(
        &'a self,
        address: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn Listener>, LocalError>> {
        Box::pin(async move {
            let address = if address.is_empty() || address.ends_with(":0") {
                self.fresh("")
            } else {
                address.to_string()
            };
            let (tx, rx) = mpsc::channel(ACCEPT_BACKLOG);
            let mut listeners = self.hub.listeners.lock().unwrap_or_else(|e| e.into_inner());
            if listeners.get(&address).is_some_and(|tx| !tx.is_closed()) {
                return Err(LocalError::new(
                    LocalErrorKind::Bind,
                    format!("cannot listen on {address}: another listener has it"),
                ));
            }
            listeners.insert(address.clone(), tx);
            Ok(Box::new(InProcessListener {
                address,
                incoming: rx,
                hub: Arc::clone(&self.hub),
            }) as Box<dyn Listener>)
        })
    }

    fn dial<'a>(
        &'a self,
        address: &'a str,
        _timeout: Duration,
    ) -> BoxFuture<'a, io::Result<Socket>> {
        Box::pin(async move {
            let refused = || {
                io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    format!("no in-process listener at {address}"),
                )
            };
            let listener = self
                .hub
                .listeners
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(address)
                .cloned()
                .ok_or_else(refused)?;
            let (to_server, from_client) = mpsc::channel(DIRECTION_BUFFER);
            let (to_client, from_server) = mpsc::channel(DIRECTION_BUFFER);
            let client = self.fresh("client-");
            let server_side = Socket::new(
                ChannelReader(from_client),
                ChannelWriter(Some(to_client)),
                client,
            );
            // The dial's timeout bounds this wait, as the caller wraps the whole dial in it.
            listener.send(server_side).await.map_err(|_| refused())?;
            Ok(Socket::new(
                ChannelReader(from_server),
                ChannelWriter(Some(to_server)),
                address,
            ))
        })
    }
}

struct InProcessListener {
    address: String,
    incoming: mpsc::Receiver<Socket>,
    hub: Arc<Hub>,
}

impl Listener for InProcessListener {
    fn address(&self) -> String {
        self.address.clone()
    }

    fn accept(&mut self) -> BoxFuture<'_, io::Result<Socket>> {
        Box::pin(async move {
            match self.incoming.recv().await {
                Some(socket) => Ok(socket),
                // Only this listener removes its sender: not reached while it lives.
                None => std::future::pending().await,
            }
        })
    }
}

impl Drop for InProcessListener {
    fn drop(&mut self) {
        let mut listeners = self.hub.listeners.lock().unwrap_or_else(|e| e.into_inner());
        listeners.remove(&self.address);
    }
}

/// One direction's receiving end.
struct ChannelReader(mpsc::Receiver<Message>);

impl SocketReader for ChannelReader {
    fn recv(&mut self) -> BoxFuture<'_, Result<Option<Message>, FrameError>> {
        Box::pin(async move { Ok(self.0.recv().await) })
    }

    fn is_open(&self) -> bool {
        // Closed when the peer dropped its writer; a message waiting was never asked for.
        !self.0.is_closed() && self.0.is_empty()
    }
}

/// One direction's sending end; `None` once closed.
struct ChannelWriter(Option<mpsc::Sender<Message>>);

impl SocketWriter for ChannelWriter {
    fn send(&mut self, message: Message) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async move {
            let gone =
                || io::Error::new(io::ErrorKind::BrokenPipe, "the peer closed the connection");
            let tx = self.0.as_ref().ok_or_else(gone)?;
            tx.send(message).await.map_err(|_| gone())
        })
    }

    fn close(&mut self) -> BoxFuture<'_, io::Result<()>> {
        self.0 = None;
        Box::pin(async { Ok(()) })
    }
}
