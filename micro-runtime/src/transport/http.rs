//! [`HttpTransport`]: go-micro's default transport, each message an HTTP/1.1 frame on TCP.
//!
//! Servers and clients that use it (the default) are served by micro's connection code directly,
//! with the frame reader and writer, not through the [`Transport`] trait's boxed sockets; its trait
//! implementation is for code that wants go-micro's wire as sockets of messages: a transport that
//! wraps this one (to count or trace messages, say), or a tool that talks to a node by hand.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::pool::HttpConn;
use super::{
    FrameError, FrameReader, FrameWriter, Limits, Listener, Message, Socket, SocketReader,
    SocketWriter, Transport, advertise_address, listen,
};
use crate::LocalError;
use crate::registry::BoxFuture;
use tokio::io::AsyncWriteExt;

/// go-micro's HTTP transport: the default of every server and client.
///
/// Requests are `POST /` frames and replies `HTTP/1.1 200 OK` frames, each a whole HTTP/1.1
/// message with its headers, on a TCP connection used as a raw socket (reference: go-micro's
/// `transport/http_transport.go`). `limits` bound what its sockets read when used through the
/// [`Transport`] trait; a server or client using it directly applies its own
/// [`Limits`] instead.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct HttpTransport {
    /// What its sockets accept from a peer.
    pub limits: Limits,
}

impl HttpTransport {
    /// The transport with default limits.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Whether `transport` is micro's own HTTP transport (or a shared `Arc` of it), served without
/// the trait's boxed sockets.
pub(crate) fn is_http(transport: &dyn Transport) -> bool {
    let any = transport as &dyn std::any::Any;
    any.is::<HttpTransport>()
        || any.is::<std::sync::Arc<HttpTransport>>()
        || any
            .downcast_ref::<std::sync::Arc<dyn Transport>>()
            .is_some_and(|inner| is_http(&**inner))
}

impl Transport for HttpTransport {
    fn name(&self) -> &str {
        "http"
    }

    fn listen<'a>(
        &'a self,
        address: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn Listener>, LocalError>> {
        Box::pin(async move {
            let listener = listen(address).await?;
            let local = listener.local_addr().map_err(|e| {
                LocalError::new(
                    crate::LocalErrorKind::Bind,
                    "cannot read the listener's address",
                )
                .with_source(e)
            })?;
            let address = advertise_address(local, None)?;
            Ok(Box::new(HttpListener {
                listener,
                address,
                limits: self.limits.clone(),
            }) as Box<dyn Listener>)
        })
    }

    fn dial<'a>(
        &'a self,
        address: &'a str,
        timeout: Duration,
    ) -> BoxFuture<'a, std::io::Result<Socket>> {
        Box::pin(async move {
            let conn = HttpConn::dial(address, timeout, &self.limits).await?;
            Ok(Socket::new(
                HttpReader {
                    reader: conn.reader,
                    requests: false,
                },
                HttpWriter {
                    writer: conn.writer,
                    host: Some(address.to_string()),
                },
                address,
            ))
        })
    }
}

struct HttpListener {
    listener: TcpListener,
    address: String,
    limits: Limits,
}

impl Listener for HttpListener {
    fn address(&self) -> String {
        self.address.clone()
    }

    fn accept(&mut self) -> BoxFuture<'_, std::io::Result<Socket>> {
        Box::pin(async move {
            let (socket, remote): (_, SocketAddr) = self.listener.accept().await?;
            socket.set_nodelay(true)?;
            let (read, write) = socket.into_split();
            Ok(Socket::new(
                HttpReader {
                    reader: FrameReader::new(read, self.limits.clone()),
                    requests: true,
                },
                HttpWriter {
                    writer: FrameWriter::new(write),
                    host: None,
                },
                remote.to_string(),
            ))
        })
    }
}

/// Whether an idle connection is still open and clean: the peer has not closed it and sent
/// nothing unasked.
pub(crate) fn is_open(reader: &FrameReader<OwnedReadHalf>) -> bool {
    let mut probe = [0u8; 1];
    matches!(
        reader.get_ref().try_read(&mut probe),
        Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock
    )
}

/// Reads requests (a server's socket) or replies (a client's).
struct HttpReader {
    reader: FrameReader<OwnedReadHalf>,
    requests: bool,
}

impl SocketReader for HttpReader {
    fn recv(&mut self) -> BoxFuture<'_, Result<Option<Message>, FrameError>> {
        Box::pin(async move {
            let frame = if self.requests {
                self.reader.read_request().await?
            } else {
                self.reader.read_response().await?
            };
            Ok(frame.map(|frame| Message::new(frame.headers, frame.body)))
        })
    }

    fn is_open(&self) -> bool {
        is_open(&self.reader)
    }
}

/// Writes requests to `host` (a client's socket) or `200 OK` replies (a server's).
struct HttpWriter {
    writer: FrameWriter<OwnedWriteHalf>,
    host: Option<String>,
}

impl SocketWriter for HttpWriter {
    fn send(&mut self, message: Message) -> BoxFuture<'_, std::io::Result<()>> {
        match &self.host {
            Some(host) => self
                .writer
                .queue_request(host, &message.headers, &message.body),
            None => self
                .writer
                .queue_response(200, &message.headers, &message.body),
        }
        Box::pin(async { Ok(()) })
    }

    fn flush(&mut self) -> BoxFuture<'_, std::io::Result<()>> {
        Box::pin(self.writer.flush())
    }

    fn close(&mut self) -> BoxFuture<'_, std::io::Result<()>> {
        Box::pin(async move {
            self.writer.flush().await?;
            self.writer.get_mut().shutdown().await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[derive(Debug)]
    struct Other;

    impl Transport for Other {
        fn name(&self) -> &str {
            "other"
        }

        fn listen<'a>(
            &'a self,
            _: &'a str,
        ) -> BoxFuture<'a, Result<Box<dyn Listener>, LocalError>> {
            Box::pin(async { Err(LocalError::new(crate::LocalErrorKind::Bind, "not here")) })
        }

        fn dial<'a>(&'a self, _: &'a str, _: Duration) -> BoxFuture<'a, std::io::Result<Socket>> {
            Box::pin(async { Err(std::io::ErrorKind::Unsupported.into()) })
        }
    }

    #[test]
    fn the_http_transport_is_recognised_however_it_is_shared() {
        let http = HttpTransport::new();
        assert!(is_http(&http));
        assert!(is_http(&Arc::new(HttpTransport::new())));
        let shared: Arc<dyn Transport> = Arc::new(HttpTransport::new());
        assert!(is_http(&shared));
        assert!(is_http(&Arc::clone(&shared) as &dyn Transport));
        assert!(!is_http(&Other));
        let other: Arc<dyn Transport> = Arc::new(Other);
        assert!(!is_http(&other));
    }

    #[tokio::test]
    async fn its_sockets_carry_messages_both_ways() {
        let transport = HttpTransport::new();
        let mut listener = transport.listen("127.0.0.1:0").await.unwrap();
        let address = listener.address();
        let (client, server) = tokio::join!(
            transport.dial(&address, Duration::from_secs(5)),
            listener.accept()
        );
        let (mut client, mut server) = (client.unwrap(), server.unwrap());
        let mut headers = crate::transport::Headers::new();
        headers.insert("Micro-Endpoint", "Greeter.Hello");
        client
            .writer
            .send(Message::new(headers, "hi"))
            .await
            .unwrap();
        client.writer.flush().await.unwrap();
        let request = server.reader.recv().await.unwrap().unwrap();
        assert_eq!(request.headers.get("Micro-Endpoint"), Some("Greeter.Hello"));
        assert_eq!(&request.body[..], b"hi");
        server
            .writer
            .send(Message::new(Default::default(), "hello"))
            .await
            .unwrap();
        server.writer.flush().await.unwrap();
        let reply = client.reader.recv().await.unwrap().unwrap();
        assert_eq!(&reply.body[..], b"hello");
        assert!(client.reader.is_open());
        server.writer.close().await.unwrap();
        assert!(client.reader.recv().await.unwrap().is_none());
    }
}
