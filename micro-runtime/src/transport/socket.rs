//! The [`Transport`] trait: how a server listens and a client dials, and the [`Socket`] of
//! messages they talk over.
//!
//! The shape is go-micro's `transport.Transport`: `Listen` and `Dial` give sockets that send and
//! receive whole messages (headers and a body), and nothing above the transport knows how those
//! are put on the wire. micro's own [`HttpTransport`](super::HttpTransport) writes each message as
//! an HTTP/1.1 frame on TCP, as go-micro's default transport does; another crate can carry them on
//! anything else (an in-process channel, QUIC, a message bus) by implementing these three traits.
//!
//! One socket carries one connection. A unary call sends one request message and reads one
//! reply; a stream sends and receives many, in both directions at once, which is why a socket
//! comes as two halves. The headers are go-micro's (`Micro-Endpoint`, `Micro-Id`,
//! `Micro-Error`, ...): a transport carries them untouched.

use std::any::Any;
use std::io;
use std::time::Duration;

use bytes::Bytes;

use super::{FrameError, Headers};
use crate::LocalError;
use crate::registry::BoxFuture;

/// One message on a socket: go-micro's `transport.Message`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// The headers: routing (`Micro-Endpoint`, `Micro-Service`, `Micro-Id`), `Content-Type`,
    /// metadata, and `Micro-Error` on errors and on a stream's last message.
    pub headers: Headers,
    /// The encoded request, reply or stream message.
    pub body: Bytes,
}

impl Message {
    /// A message with these headers and body.
    pub fn new(headers: Headers, body: impl Into<Bytes>) -> Self {
        Self {
            headers,
            body: body.into(),
        }
    }
}

/// The receiving half of a [`Socket`].
pub trait SocketReader: Send + Sync + 'static {
    /// The next message. `Ok(None)` is a clean end: the peer closed its side between messages.
    /// An error means the connection cannot be read any more.
    fn recv(&mut self) -> BoxFuture<'_, Result<Option<Message>, FrameError>>;

    /// Whether an idle connection may carry another call (clients pool connections between unary
    /// calls). A transport that can tell its peer has gone says `false` then; the default is
    /// `true`, and a broken connection is found by the next call instead.
    fn is_open(&self) -> bool {
        true
    }
}

/// The sending half of a [`Socket`].
pub trait SocketWriter: Send + Sync + 'static {
    /// Sends a message, or queues it until [`flush`](Self::flush): the runtime flushes after each
    /// reply, and after each batch of a stream's messages, so a transport may batch writes.
    fn send(&mut self, message: Message) -> BoxFuture<'_, io::Result<()>>;

    /// Writes whatever [`send`](Self::send) queued. The default has nothing to do.
    fn flush(&mut self) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async { Ok(()) })
    }

    /// Ends this direction: the peer's [`SocketReader::recv`] gives `Ok(None)` after the messages
    /// already sent. Dropping the writer closes it too.
    fn close(&mut self) -> BoxFuture<'_, io::Result<()>>;
}

/// One connection of a [`Transport`]: what a [`Listener`] accepts and a dial opens.
pub struct Socket {
    /// Messages from the peer.
    pub reader: Box<dyn SocketReader>,
    /// Messages to the peer.
    pub writer: Box<dyn SocketWriter>,
    /// The peer's address, as the transport names it (`ip:port` for TCP). A server puts it in
    /// each call's [`Context::remote_addr`](crate::Context::remote_addr) when it parses as an IP address,
    /// and counts connections per peer by it.
    pub remote: String,
}

impl Socket {
    /// A socket of these two halves.
    pub fn new(
        reader: impl SocketReader,
        writer: impl SocketWriter,
        remote: impl Into<String>,
    ) -> Self {
        Self {
            reader: Box::new(reader),
            writer: Box::new(writer),
            remote: remote.into(),
        }
    }
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

/// A bound listener of a [`Transport`].
pub trait Listener: Send + 'static {
    /// The address it listens on, as clients dial it. A server registers this (with an
    /// unspecified IP replaced, as [`advertise_address`](super::advertise_address) does, when it
    /// parses as a socket address).
    fn address(&self) -> String;

    /// The next connection. An error is logged and accepting goes on after a pause, so a
    /// listener that is closed for good should keep pending instead.
    fn accept(&mut self) -> BoxFuture<'_, io::Result<Socket>>;
}

/// How a server listens and a client dials: go-micro's `transport.Transport`.
///
/// The default is [`HttpTransport`](super::HttpTransport), go-micro's HTTP wire on TCP. Give
/// another one to a service with [`ServiceBuilder::transport`](crate::service::ServiceBuilder::transport),
/// or to a server and a client with [`Server::transport`](crate::server::Server::transport) and
/// [`ClientOptions::transport`](crate::client::ClientOptions::transport): a client only reaches servers
/// that use the same transport.
pub trait Transport: Any + Send + Sync + std::fmt::Debug {
    /// A short name for logs and the registry: `http` for the default.
    fn name(&self) -> &str;

    /// Binds `address` (the server's [`address`](crate::server::Server::address) option).
    fn listen<'a>(
        &'a self,
        address: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn Listener>, LocalError>>;

    /// Connects to `address` (a node's address from the registry) within `timeout`.
    fn dial<'a>(&'a self, address: &'a str, timeout: Duration)
    -> BoxFuture<'a, io::Result<Socket>>;
}

/// A shared transport is a transport: give one `Arc` to a server and a client.
impl<T: Transport + ?Sized> Transport for std::sync::Arc<T> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn listen<'a>(
        &'a self,
        address: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn Listener>, LocalError>> {
        (**self).listen(address)
    }

    fn dial<'a>(
        &'a self,
        address: &'a str,
        timeout: Duration,
    ) -> BoxFuture<'a, io::Result<Socket>> {
        (**self).dial(address, timeout)
    }
}
