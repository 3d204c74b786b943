//! The attacks that were run against micro's server, reproduced as they were found (bounded, on
//! loopback), and what now stops each: request smuggling, connection floods, idle and half-open
//! connections and streams, and HTTP/1.1's connection-management corner cases. The memory attacks
//! need a process of their own and live in `examples/tests/attacks.rs`.

use std::net::SocketAddr;
use std::time::Duration;

use micro_runtime::server::{RunningServer, Server};
use micro_runtime::transport::Limits;
use tests::handlers::{Greeter, Streamer};
use tests::proto::greeter::{GreeterClient, GreeterServer, HelloRequest};
use tests::proto::streaming::StreamerServer;
use tests::support;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Bounds every wait: a test that would hang fails instead.
const WAIT: Duration = Duration::from_secs(10);

async fn start(limits: Limits) -> (RunningServer, GreeterClient) {
    let registry = support::registry();
    let server = Server::new("greeter")
        .registry(registry.clone())
        .limits(limits)
        .handle(GreeterServer::new(Greeter::default()))
        .handle(StreamerServer::new(Streamer))
        .start()
        .await
        .unwrap();
    let client = GreeterClient::new("greeter", support::client(&registry));
    (server, client)
}

async fn hello(client: &GreeterClient, name: &str) -> String {
    let request = HelloRequest { name: name.into() };
    client.hello(request).await.unwrap().greeting
}

/// Connects from the loopback address `from` (any of 127.0.0.0/8 is this machine).
async fn connect_from(from: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(server).await.unwrap()
}

/// Reads until the server closes the connection (bounded by [`WAIT`]).
async fn read_until_closed(socket: &mut TcpStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, socket.read_to_end(&mut out))
        .await
        .expect("the server closes the connection")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

fn json_call(name: &str, extra_headers: &str) -> String {
    let body = format!("{{\"name\":\"{name}\"}}");
    format!(
        "POST / HTTP/1.1\r\nContent-Type: application/json\r\nMicro-Endpoint: Greeter.Hello\r\n{extra_headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn a_smuggled_request_is_refused_not_executed() {
    // As found: only the first Transfer-Encoding was read, so this was framed by its length and
    // the chunked body's second request ran ("Hello smuggled").
    let (server, client) = start(Limits::default()).await;
    let smuggled = json_call("smuggled", "");
    let chunked = format!("0\r\n\r\n{smuggled}");
    let attack = format!(
        "POST / HTTP/1.1\r\nContent-Type: application/json\r\nMicro-Endpoint: Greeter.Hello\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n{chunked}"
    );
    let mut socket = TcpStream::connect(server.local_addr()).await.unwrap();
    socket.write_all(attack.as_bytes()).await.unwrap();
    let reply = read_until_closed(&mut socket).await;
    assert!(reply.starts_with("HTTP/1.1 400 "), "{reply}");
    assert!(reply.contains("ambiguous"), "{reply}");
    assert!(!reply.contains("Hello smuggled"), "{reply}");
    assert_eq!(hello(&client, "next").await, "Hello next");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn connection_management_follows_http_1_1() {
    let (server, _client) = start(Limits::default()).await;
    // A `close` token anywhere in Connection closes after the reply.
    for request in [
        json_call("a", "Connection: keep-alive, close\r\n"),
        json_call("b", "Connection: keep-alive\r\nConnection: close\r\n"),
        // HTTP/1.0 is not kept alive unless it asks.
        json_call("c", "").replace("HTTP/1.1", "HTTP/1.0"),
    ] {
        let mut socket = TcpStream::connect(server.local_addr()).await.unwrap();
        socket.write_all(request.as_bytes()).await.unwrap();
        let reply = read_until_closed(&mut socket).await;
        assert!(reply.starts_with("HTTP/1.1 200 "), "{request}\n{reply}");
        assert!(reply.contains("\"greeting\""), "{reply}");
    }
    // An expectation other than 100-continue is refused.
    let mut socket = TcpStream::connect(server.local_addr()).await.unwrap();
    let request = json_call("d", "Expect: something-else\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let reply = read_until_closed(&mut socket).await;
    assert!(reply.starts_with("HTTP/1.1 417 "), "{reply}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_connection_cap_refuses_the_excess_while_calls_keep_succeeding() {
    let limits = Limits::default()
        .max_connections(48)
        .max_connections_per_peer(16);
    let (server, client) = start(limits).await;
    assert_eq!(hello(&client, "before").await, "Hello before");
    // One client holds idle connections: 16 are served, the rest refused with a 503 at once.
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..40 {
        let mut socket = connect_from("127.0.0.2", server.local_addr()).await;
        let mut first = [0u8; 12];
        let read = tokio::time::timeout(Duration::from_millis(300), socket.read(&mut first)).await;
        match read {
            Ok(Ok(n)) if n > 0 => {
                assert_eq!(&first[..n], &b"HTTP/1.1 503"[..n]);
                let rest = read_until_closed(&mut socket).await;
                assert!(rest.contains("too many connections"), "{rest}");
                refused += 1;
            }
            Ok(other) => panic!("unexpected {other:?}"),
            Err(_held) => held.push(socket),
        }
    }
    assert_eq!((held.len(), refused), (16, 24));
    // Others are still served, while the cap in all leaves room only for them.
    for i in 0..20 {
        assert_eq!(hello(&client, &format!("{i}")).await, format!("Hello {i}"));
    }
    drop(held);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let limits = Limits::default().idle_timeout(Duration::from_millis(200));
    let (server, _client) = start(limits).await;
    let mut socket = TcpStream::connect(server.local_addr()).await.unwrap();
    socket
        .write_all(json_call("once", "").as_bytes())
        .await
        .unwrap();
    let reply = read_until_closed(&mut socket).await;
    assert!(reply.contains("Hello once"), "{reply}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn half_open_streams_time_out() {
    let limits = Limits::default().stream_idle_timeout(Duration::from_millis(300));
    let (server, _client) = start(limits).await;
    // A go-micro client stream's init frame, then silence without EOS.
    let init = "POST / HTTP/1.1\r\nContent-Type: application/json\r\nMicro-Endpoint: Streamer.Sum\r\nMicro-Stream: 1\r\nMicro-Id: 1\r\nContent-Length: 3\r\n\r\n{}\n";
    let mut socket = TcpStream::connect(server.local_addr()).await.unwrap();
    socket.write_all(init.as_bytes()).await.unwrap();
    let reply = read_until_closed(&mut socket).await;
    assert!(reply.contains("stream idle"), "{reply}");
    assert!(reply.contains("\"code\":408"), "{reply}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_stream_whose_reader_stopped_reading_is_closed() {
    let limits = Limits::default().stream_idle_timeout(Duration::from_millis(300));
    let (server, _client) = start(limits).await;
    // Countdown from a million, and read nothing until the server has stopped writing.
    let body = "{\"from\":1000000}";
    let call = format!(
        "POST / HTTP/1.1\r\nContent-Type: application/json\r\nMicro-Endpoint: Streamer.Countdown\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut socket = TcpStream::connect(server.local_addr()).await.unwrap();
    socket.write_all(call.as_bytes()).await.unwrap();
    // Not reading for a while is the attack itself, so this test waits rather than awaiting.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // What the socket buffers held arrives, then the connection ends without the last tick: the
    // server gave up on a reader that did not read.
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, socket.read_to_end(&mut out))
        .await
        .expect("the server closed the stream")
        .unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("{\"value\":1000000}"), "the stream started");
    // The handler would have gone on down to 13 (where the test handler fails on purpose).
    assert!(!text.contains("{\"value\":13}"), "the stream was cut short");
    server.stop().await.unwrap();
}
