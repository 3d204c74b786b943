//! A server survives any one bad client: garbage, oversized messages, wrong content types and
//! unknown endpoints each get a clear error, and the next caller is served as usual.

use std::time::Duration;

use micro_runtime::server::{RunningServer, Server};
use micro_runtime::transport::Limits;
use tests::handlers::Greeter;
use tests::proto::greeter::{GreeterClient, GreeterServer, HelloRequest};
use tests::support;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start(limits: Limits) -> (RunningServer, GreeterClient) {
    let registry = support::registry();
    let server = Server::new("greeter")
        .registry(registry.clone())
        .limits(limits)
        .handle(GreeterServer::new(Greeter::default()))
        .start()
        .await
        .unwrap();
    (
        server,
        GreeterClient::new("greeter", support::client(&registry)),
    )
}

/// Sends raw bytes and reads whatever comes back until the server closes or `wait` passes.
async fn exchange(server: &RunningServer, bytes: &[u8], wait: Duration) -> String {
    let mut socket = TcpStream::connect(server.local_addr()).await.unwrap();
    socket.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, socket.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

async fn still_serves(client: &GreeterClient) {
    let reply = client
        .hello(HelloRequest {
            name: "next".into(),
        })
        .await
        .unwrap();
    assert_eq!(reply.greeting, "Hello next");
}

#[tokio::test]
async fn garbage_bytes_get_a_400_and_a_closed_connection() {
    let (server, client) = start(Limits::default()).await;
    let reply = exchange(
        &server,
        b"\x00\x01\x02 this is not HTTP\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.contains("malformed"), "{reply}");
    still_serves(&client).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_oversized_body_is_refused_before_it_is_read() {
    let limits = Limits::default().max_message_bytes(1024);
    let (server, client) = start(limits).await;
    // Announces 10 MB and sends none of it: the answer must not wait for the body.
    let request = "POST / HTTP/1.1\r\nContent-Type: application/json\r\nMicro-Endpoint: Greeter.Hello\r\nContent-Length: 10000000\r\n\r\n";
    let reply = exchange(&server, request.as_bytes(), Duration::from_secs(5)).await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("exceeds the limit of 1024 bytes"), "{reply}");
    still_serves(&client).await;
    // The client enforces the same limit on what it sends... and the server on what it gets.
    let big = HelloRequest {
        name: "x".repeat(4096),
    };
    let err = client.hello(big).await.unwrap_err();
    assert!(err.detail.contains("413") || err.code == 413, "{err}");
    still_serves(&client).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_oversized_header_is_refused() {
    let limits = Limits::default().max_header_bytes(2048);
    let (server, client) = start(limits).await;
    let request = format!("POST / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(4096));
    let reply = exchange(&server, request.as_bytes(), Duration::from_secs(5)).await;
    assert!(reply.starts_with("HTTP/1.1 431"), "{reply}");
    still_serves(&client).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_slow_header_times_out_without_blocking_others() {
    let limits = Limits::default().header_read_timeout(Duration::from_millis(200));
    let (server, client) = start(limits).await;
    let mut slow = TcpStream::connect(server.local_addr()).await.unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nMicro-End")
        .await
        .unwrap();
    // Others are served while the slow client dawdles.
    still_serves(&client).await;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let reply = String::from_utf8_lossy(&out);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_wrong_content_type_gets_a_415_and_the_connection_stays_usable() {
    let (server, client) = start(Limits::default()).await;
    let request = "POST / HTTP/1.1\r\nContent-Type: text/xml\r\nMicro-Endpoint: Greeter.Hello\r\nContent-Length: 7\r\n\r\n<name/>\
                   POST / HTTP/1.1\r\nContent-Type: application/json\r\nMicro-Endpoint: Greeter.Hello\r\nContent-Length: 14\r\nConnection: close\r\n\r\n{\"name\":\"Ann\"}";
    let reply = exchange(&server, request.as_bytes(), Duration::from_secs(5)).await;
    assert!(reply.contains(r#""code":415"#), "{reply}");
    assert!(
        reply.contains("unsupported Content-Type: text/xml"),
        "{reply}"
    );
    assert!(
        reply.contains(r#"{"greeting":"Hello Ann"}"#),
        "the second call on the connection is served: {reply}"
    );
    still_serves(&client).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_endpoints_and_bad_bodies_get_clear_errors() {
    let (server, client) = start(Limits::default()).await;
    let call = |endpoint: &str, body: &str| {
        format!(
            "POST / HTTP/1.1\r\nContent-Type: application/json\r\nMicro-Endpoint: {endpoint}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let cases = [
        (call("Greeter.Nope", "{}"), "can't find method Nope"),
        (call("Nope.Hello", "{}"), "can't find service Nope"),
        (call("Greeter", "{}"), "ill-formed"),
        (call("Greeter.Hello", "{not json"), "cannot decode JSON body"),
        (call("Greeter.Hello", r#"{"unknown_field":1}"#), "unknown field"),
        (
            "POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}".to_string(),
            "missing Micro-Endpoint",
        ),
        // No routing headers and no Content-Type: go-micro's legacy proto-rpc reads the body.
        (
            "POST / HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}".to_string(),
            "proto-rpc: the envelope netstring is cut short",
        ),
        (
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\nMicro-Endpoint: Greeter.Hello\r\n\r\n0\r\n\r\n".to_string(),
            "only chunked is decoded",
        ),
    ];
    for (request, expected) in cases {
        let reply = exchange(&server, request.as_bytes(), Duration::from_secs(5)).await;
        assert!(
            reply.contains(expected),
            "expected {expected:?} in:\n{reply}"
        );
    }
    still_serves(&client).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_timeout_header_that_is_not_a_number_is_ignored_as_go_micro_does() {
    let (server, _client) = start(Limits::default()).await;
    let request = "POST / HTTP/1.1\r\nContent-Type: application/json\r\nMicro-Endpoint: Greeter.Hello\r\nTimeout: soon\r\nContent-Length: 14\r\nConnection: close\r\n\r\n{\"name\":\"Ann\"}";
    let reply = exchange(&server, request.as_bytes(), Duration::from_secs(5)).await;
    assert!(reply.starts_with("HTTP/1.1 200 "), "{reply}");
    assert!(reply.contains("Hello Ann"), "{reply}");
    assert!(!reply.contains("Micro-Error"), "{reply}");
    server.stop().await.unwrap();
}
