//! The transport suite on micro's HTTP transport: served directly (the default), and through the
//! `Transport` trait's boxed sockets by a wrapping transport that counts the messages it carries,
//! which proves the HTTP transport works as the trait describes and that another crate can
//! decorate it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use micro_runtime::LocalError;
use micro_runtime::registry::BoxFuture;
use micro_runtime::transport::{
    FrameError, HttpTransport, Listener, Message, Socket, SocketReader, SocketWriter, Transport,
};
use tests::transport_suite as suite;

/// The HTTP transport, its messages counted on their way through the trait.
#[derive(Debug, Default)]
struct Counted {
    inner: HttpTransport,
    sent: Arc<AtomicUsize>,
    received: Arc<AtomicUsize>,
}

impl Counted {
    fn wrap(&self, socket: Socket) -> Socket {
        Socket {
            reader: Box::new(CountedReader(socket.reader, Arc::clone(&self.received))),
            writer: Box::new(CountedWriter(socket.writer, Arc::clone(&self.sent))),
            remote: socket.remote,
        }
    }
}

impl Transport for Counted {
    fn name(&self) -> &str {
        "counted-http"
    }

    fn listen<'a>(
        &'a self,
        address: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn Listener>, LocalError>> {
        Box::pin(async move {
            let inner = self.inner.listen(address).await?;
            let counted = Counted {
                inner: HttpTransport::new(),
                sent: Arc::clone(&self.sent),
                received: Arc::clone(&self.received),
            };
            Ok(Box::new(CountedListener(inner, counted)) as Box<dyn Listener>)
        })
    }

    fn dial<'a>(
        &'a self,
        address: &'a str,
        timeout: Duration,
    ) -> BoxFuture<'a, std::io::Result<Socket>> {
        Box::pin(async move { Ok(self.wrap(self.inner.dial(address, timeout).await?)) })
    }
}

struct CountedListener(Box<dyn Listener>, Counted);

impl Listener for CountedListener {
    fn address(&self) -> String {
        self.0.address()
    }

    fn accept(&mut self) -> BoxFuture<'_, std::io::Result<Socket>> {
        Box::pin(async move { Ok(self.1.wrap(self.0.accept().await?)) })
    }
}

struct CountedReader(Box<dyn SocketReader>, Arc<AtomicUsize>);

impl SocketReader for CountedReader {
    fn recv(&mut self) -> BoxFuture<'_, Result<Option<Message>, FrameError>> {
        Box::pin(async move {
            let message = self.0.recv().await?;
            if message.is_some() {
                self.1.fetch_add(1, Ordering::Relaxed);
            }
            Ok(message)
        })
    }

    fn is_open(&self) -> bool {
        self.0.is_open()
    }
}

struct CountedWriter(Box<dyn SocketWriter>, Arc<AtomicUsize>);

impl SocketWriter for CountedWriter {
    fn send(&mut self, message: Message) -> BoxFuture<'_, std::io::Result<()>> {
        self.1.fetch_add(1, Ordering::Relaxed);
        self.0.send(message)
    }

    fn flush(&mut self) -> BoxFuture<'_, std::io::Result<()>> {
        self.0.flush()
    }

    fn close(&mut self) -> BoxFuture<'_, std::io::Result<()>> {
        self.0.close()
    }
}

fn http() -> Arc<dyn Transport> {
    Arc::new(HttpTransport::new())
}

/// Runs one suite test on the HTTP transport, served directly.
async fn on_http<F: Future<Output = ()>>(test: impl FnOnce(Arc<dyn Transport>) -> F) {
    test(http()).await;
}

/// Runs one suite test on the counted transport, and checks that its messages went through it.
async fn counted<F: Future<Output = ()>>(test: impl FnOnce(Arc<dyn Transport>) -> F) {
    let transport = Arc::new(Counted::default());
    let (sent, received) = (Arc::clone(&transport.sent), Arc::clone(&transport.received));
    test(transport).await;
    let (sent, received) = (
        sent.load(Ordering::Relaxed),
        received.load(Ordering::Relaxed),
    );
    assert!(
        sent > 0 && received > 0,
        "sent {sent}, received {received}: the trait was bypassed"
    );
}

mod http {
    tests::transport_suite_tests!(super::on_http);
}

mod through_the_trait {
    tests::transport_suite_tests!(super::counted);
}

#[tokio::test]
async fn a_shared_http_transport_is_still_served_directly() {
    // An `Arc` of the HTTP transport is recognised, so a server given one still answers curl-style
    // HTTP clients with the direct path's refusals (a 400 status for garbage), which the trait's
    // message sockets cannot express.
    let registry = tests::support::registry();
    let server = suite::start(
        "greeter",
        &http(),
        &registry,
        tests::proto::greeter::GreeterServer::new(tests::handlers::Greeter::default()),
    )
    .await;
    let mut socket = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    socket.write_all(b"NOT HTTP AT ALL\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 400 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    server.stop().await.unwrap();
}
