//! The gateway against clients that misbehave, on real sockets: headers or bodies that never
//! finish, bodies past the limit, more connections than it serves at once. Each is cut off with
//! a clear answer, and the others are served meanwhile.

use std::sync::Arc;
use std::time::Duration;

use micro_gateway::{Gateway, GatewayOptions};
use micro_runtime::registry::{MemoryRegistry, Registry};
use micro_runtime::server::{RunningServer, Server};
use tests::handlers::{Greeter, Probe, Streamer};
use tests::proto::greeter::GreeterServer;
use tests::proto::streaming::StreamerServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

const WAIT: Duration = Duration::from_secs(10);

/// A greeter and a gateway in front of it, on loopback.
struct Setup {
    address: String,
    stop: Option<oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
    server: RunningServer,
}

impl Setup {
    async fn start(options: GatewayOptions) -> Self {
        Self::serving(options, StreamerServer::new(Streamer)).await
    }

    /// With the streamer's endpoints served by `streamer`.
    async fn serving(
        options: GatewayOptions,
        streamer: impl micro_runtime::server::Handler,
    ) -> Self {
        let registry: Arc<dyn Registry> = Arc::new(MemoryRegistry::new());
        let server = Server::new("greeter")
            .registry(Arc::clone(&registry))
            .handle(GreeterServer::new(Greeter::default()))
            .handle(streamer)
            .start()
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (stop, stopped) = oneshot::channel();
        let gateway = Gateway::new(registry, options);
        let served = tokio::spawn(gateway.serve(listener, async move {
            let _ = stopped.await;
        }));
        Self {
            address,
            stop: Some(stop),
            served,
            server,
        }
    }

    /// Sends `request` on a new connection and reads the answer until the server closes it.
    async fn exchange(&self, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(&self.address).await.unwrap();
        stream.write_all(request).await.unwrap();
        read_to_close(&mut stream).await
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.served.await.unwrap().unwrap();
        self.server.stop().await.unwrap();
    }
}

/// Everything the server sends until it closes the connection, within [`WAIT`].
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut answer))
        .await
        .expect("the gateway closes the connection")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

fn hello(name: &str) -> Vec<u8> {
    let body = format!(r#"{{"name": "{name}"}}"#);
    format!(
        "POST /greeter/hello HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_answered_and_the_connection_closed_on_request() {
    let setup = Setup::start(GatewayOptions::default()).await;
    let answer = setup.exchange(&hello("John")).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(
        answer.ends_with("{\"greeting\":\"Hello John\"}\n"),
        "{answer}"
    );
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_that_never_end_are_cut_off() {
    let options = GatewayOptions::default().header_timeout(Duration::from_millis(200));
    let setup = Setup::start(options).await;
    let mut slow = TcpStream::connect(&setup.address).await.unwrap();
    slow.write_all(b"POST /greeter/hello HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    // hyper answers 408 or just closes; either way the connection ends.
    let answer = read_to_close(&mut slow).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    let served = setup.exchange(&hello("after")).await;
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_gets_408() {
    let options = GatewayOptions::default().body_timeout(Duration::from_millis(200));
    let setup = Setup::start(options).await;
    let mut stalled = TcpStream::connect(&setup.address).await.unwrap();
    stalled
        .write_all(b"POST /greeter/hello HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"name\"")
        .await
        .unwrap();
    let answer = read_to_close(&mut stalled).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains(r#""id":"go.micro.api","code":408"#),
        "{answer}"
    );
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_past_the_limit_gets_413() {
    let options = GatewayOptions::default().max_body(1024);
    let setup = Setup::start(options).await;
    let mut request = b"POST /greeter/hello HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..8 {
        request.extend_from_slice(b"100\r\n");
        request.extend_from_slice(&[b' '; 256]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let answer = setup.exchange(&request).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("larger than 1024 bytes"), "{answer}");
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_wait_for_a_free_one() {
    let options = GatewayOptions::default()
        .max_connections(2)
        .header_timeout(Duration::from_secs(30));
    let setup = Setup::start(options).await;
    // Two idle connections hold both places.
    let first = TcpStream::connect(&setup.address).await.unwrap();
    let _second = TcpStream::connect(&setup.address).await.unwrap();
    let mut third = TcpStream::connect(&setup.address).await.unwrap();
    third.write_all(&hello("third")).await.unwrap();
    let mut answer = Vec::new();
    let early =
        tokio::time::timeout(Duration::from_millis(300), third.read_to_end(&mut answer)).await;
    assert!(early.is_err(), "served past the cap: {answer:?}");
    // One place frees: the waiting connection is served.
    drop(first);
    let answer = read_to_close(&mut third).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_connections_that_send_garbage_leaves_calls_working() {
    let setup = Setup::start(GatewayOptions::default()).await;
    let floods: Vec<_> = (0..100)
        .map(|i| {
            let address = setup.address.clone();
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(&address).await.unwrap();
                let garbage = format!("NOT HTTP {i}\r\n\r\n");
                let _ = stream.write_all(garbage.as_bytes()).await;
                let mut answer = Vec::new();
                let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut answer)).await;
                String::from_utf8_lossy(&answer).into_owned()
            })
        })
        .collect();
    for flood in floods {
        let answer = flood.await.unwrap();
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
            "{answer}"
        );
    }
    let served = setup.exchange(&hello("still")).await;
    assert!(
        served.ends_with("{\"greeting\":\"Hello still\"}\n"),
        "{served}"
    );
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_client_that_stops_reading_is_disconnected() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let options = GatewayOptions::default().stream_send_timeout(Duration::from_millis(200));
    let setup = Setup::start(options).await;
    // The greeter server serves the streamer too, so /greeter/Streamer.Echo echoes.
    let url = format!("ws://{}/greeter/Streamer.Echo", setup.address);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    // Send echoes and never read one: the gateway's writes back stall, and it lets go.
    let message = format!(r#"{{"text": "{}"}}"#, "x".repeat(16 << 10));
    let flooding = async {
        loop {
            if socket.send(Message::text(message.clone())).await.is_err() {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), flooding)
        .await
        .expect("the gateway disconnects a client that does not read");
    let served = setup.exchange(&hello("after")).await;
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
    setup.stop().await;
}

/// A POST of `{"name": "x"}` to the greeter with `headers` (each `Name: value`).
fn hello_with(host: &str, headers: &[&str]) -> Vec<u8> {
    let body = r#"{"name": "x"}"#;
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    format!(
        "POST /greeter/hello HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_of_other_origins_and_rebound_names_are_refused() {
    let options = GatewayOptions::default().cors(vec!["http://app.example".into()]);
    let setup = Setup::start(options).await;
    let own = format!("Origin: http://{}", setup.address);
    for (host, headers, status) in [
        // No Origin: curl, a service, a script.
        ("127.0.0.1", vec![], "200"),
        // The gateway's own pages, and an origin CORS allows.
        (setup.address.as_str(), vec![own.as_str()], "200"),
        ("127.0.0.1", vec!["Origin: http://app.example"], "200"),
        // Any other page: a form post or a no-cors fetch, refused.
        ("127.0.0.1", vec!["Origin: http://evil.example"], "403"),
        ("localhost:1", vec![], "200"),
        // DNS rebinding: a page's own name pointed at 127.0.0.1.
        ("evil.example", vec![], "403"),
        (
            "evil.example:8080",
            vec!["Origin: http://evil.example:8080"],
            "403",
        ),
    ] {
        let answer = setup.exchange(&hello_with(host, &headers)).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "Host {host} {headers:?}: {answer}"
        );
    }
    // A WebSocket from another page, refused before it opens (browsers apply no CORS to them).
    let upgrade = format!(
        "GET /greeter/Streamer.Echo HTTP/1.1\r\nHost: {}\r\nOrigin: http://evil.example\r\n\
         Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        setup.address
    );
    let mut socket = TcpStream::connect(&setup.address).await.unwrap();
    socket.write_all(upgrade.as_bytes()).await.unwrap();
    let mut head = vec![0u8; 12];
    socket.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 403");
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_have_a_cap_and_close_when_the_gateway_stops() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let options = GatewayOptions::default().max_connections(1);
    let setup = Setup::start(options).await;
    let url = format!("ws://{}/greeter/Streamer.Echo", setup.address);
    let (mut open, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    open.send(Message::text(r#"{"text": "hi"}"#)).await.unwrap();
    let echoed = tokio::time::timeout(WAIT, open.next()).await.unwrap();
    assert!(matches!(echoed, Some(Ok(Message::Text(_)))), "{echoed:?}");
    // The upgraded connection left the connection cap; the WebSocket cap holds the second.
    match tokio_tungstenite::connect_async(&url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503)
        }
        other => panic!("a second WebSocket past the cap: {other:?}"),
    }
    // Stopping the gateway closes the open one with 1001 (going away).
    let stopping = tokio::spawn(setup.stop());
    let closed = loop {
        match tokio::time::timeout(WAIT, open.next()).await.unwrap() {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected a close: {other:?}"),
        }
    };
    assert_eq!(closed.map(|f| u16::from(f.code)), Some(1001));
    // Reading on answers the close, as a browser does; then the connection ends.
    let after = tokio::time::timeout(WAIT, open.next()).await.unwrap();
    assert!(
        matches!(after, None | Some(Err(_))),
        "nothing after the close: {after:?}"
    );
    tokio::time::timeout(WAIT, stopping).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let options = GatewayOptions::default().header_timeout(Duration::from_millis(300));
    let setup = Setup::start(options).await;
    let mut idle = TcpStream::connect(&setup.address).await.unwrap();
    let request = String::from_utf8(hello("idle"))
        .unwrap()
        .replace("Connection: close\r\n", "");
    idle.write_all(request.as_bytes()).await.unwrap();
    // The reply, then nothing more from the client: the connection must not hold its place.
    let answer = read_to_close(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_a_quiet_stream_after_its_end_of_input_stops_it_and_frees_the_place() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let (ended, mut how) = tokio::sync::mpsc::unbounded_channel();
    let options = GatewayOptions::default().max_connections(1);
    let setup = Setup::serving(options, StreamerServer::new(Probe { ended })).await;
    // Probe's sum reads to the caller's `EOS`, reports it, and then answers nothing.
    let url = format!("ws://{}/greeter/Streamer.Sum", setup.address);
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    socket.send(Message::text("")).await.unwrap();
    let eos = tokio::time::timeout(WAIT, how.recv()).await;
    assert_eq!(eos.expect("the handler reads the end"), Some("eos"));
    // The client goes away without a word. The gateway still reads the socket after the empty
    // frame, so it notices and drops the stream, which hangs up on the service: its handler is
    // stopped, and the one WebSocket place is free again.
    drop(socket);
    let ended = tokio::time::timeout(WAIT, how.recv()).await;
    assert_eq!(ended.expect("the handler is stopped"), Some("cancelled"));
    tokio::time::timeout(WAIT, async {
        loop {
            match tokio_tungstenite::connect_async(&url).await {
                Ok(_) => break,
                Err(_) => tokio::task::yield_now().await,
            }
        }
    })
    .await
    .expect("the place is freed");
    setup.stop().await;
}
