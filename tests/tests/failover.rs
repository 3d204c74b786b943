//! Node choice across calls: a node that timed out is avoided for a cool-down, round robin holds
//! across calls, and a server leaving closes its connections only after clients can drop it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use micro_runtime::client::ClientOptions;
use micro_runtime::registry::{Node, ServiceRecord};
use micro_runtime::selector::RoundRobin;
use micro_runtime::server::Server;
use micro_runtime::{CallOptions, Client};
use tests::handlers::Greeter;
use tests::proto::greeter::{GreeterClient, GreeterServer, HelloRequest};
use tests::support;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn hello(name: &str) -> HelloRequest {
    HelloRequest { name: name.into() }
}

fn node_record(id: &str, address: String) -> ServiceRecord {
    ServiceRecord {
        name: "greeter".into(),
        version: "latest".into(),
        nodes: vec![Node {
            id: id.into(),
            address,
            ..Node::default()
        }],
        ..ServiceRecord::default()
    }
}

#[tokio::test]
async fn a_node_that_timed_out_is_avoided_for_the_cool_down() {
    let registry = support::registry();
    let server = support::start("greeter", &registry, GreeterServer::new(Greeter::default())).await;
    // A node that accepts connections and never answers, counting how often it is tried.
    let black_hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = black_hole.local_addr().unwrap().to_string();
    let tried = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&tried);
    let hole = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = black_hole.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    registry
        .register(&node_record("black-hole", address), None)
        .await
        .unwrap();

    // Round robin over two nodes: without a cool-down every second call would try the hole.
    let options = ClientOptions::default().strategy(RoundRobin::new());
    let client = GreeterClient::new("greeter", Client::with_options(registry.clone(), options));
    // The call that meets the hole spends its whole deadline there and fails with a timeout.
    let call = CallOptions::new()
        .timeout(Duration::from_millis(600))
        .idempotent(true);
    let mut ok = 0;
    for _ in 0..20 {
        // After the first call to meet the hole, the hole is cooling and goes last.
        if client.hello_with(hello("x"), call.clone()).await.is_ok() {
            ok += 1;
        }
    }
    assert!(ok >= 19, "{ok} of 20 calls succeeded");
    assert_eq!(
        tried.load(Ordering::SeqCst),
        1,
        "the hole is tried once, then cooled down"
    );
    hole.abort();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn round_robin_holds_across_calls() {
    let registry = support::registry();
    let greeters: Vec<Greeter> = (0..3).map(|_| Greeter::default()).collect();
    let mut servers = Vec::new();
    for greeter in &greeters {
        servers
            .push(support::start("greeter", &registry, GreeterServer::new(greeter.clone())).await);
    }
    let options = ClientOptions::default().strategy(RoundRobin::new());
    let client = GreeterClient::new("greeter", Client::with_options(registry.clone(), options));
    for _ in 0..30 {
        client.hello(hello("x")).await.unwrap();
    }
    let calls: Vec<usize> = greeters
        .iter()
        .map(|g| g.calls.load(Ordering::SeqCst))
        .collect();
    assert_eq!(calls, [10, 10, 10], "each node takes every third call");
    for server in servers {
        server.stop().await.unwrap();
    }
}

/// Sends one unary request on `socket` and returns the reply's head (status line and headers).
async fn raw_call(socket: &mut tokio::net::TcpStream) -> String {
    let body = b"{\"name\":\"raw\"}";
    let request = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nMicro-Endpoint: Greeter.Hello\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    socket.write_all(body).await.unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&reply).contains("\r\n\r\n") {
        let n = socket.read(&mut buf).await.unwrap();
        assert!(n > 0, "the server closed before replying");
        reply.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&reply).to_lowercase()
}

#[tokio::test]
async fn a_stopping_server_deregisters_then_serves_until_the_wait_ends_then_refuses() {
    let registry = support::registry();
    let server = Server::new("greeter")
        .address("127.0.0.1:0")
        .registry(registry.clone())
        .deregister_wait(Duration::from_secs(1))
        .handle(GreeterServer::new(Greeter::default()))
        .start()
        .await
        .unwrap();
    let address = server.local_addr();
    let mut pooled = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = raw_call(&mut pooled).await;
    assert!(!head.contains("connection: close"), "{head}");

    let mut watcher = registry.watch(Some("greeter")).await.unwrap();
    let stopping = tokio::spawn(server.stop());
    let event = tokio::time::timeout(Duration::from_secs(5), watcher.next())
        .await
        .expect("a watch event")
        .expect("the watch is open");
    assert_eq!(event.action, micro_runtime::registry::Action::Delete);

    // Deregistered, and still serving: on the open connection and on new ones, each reply
    // telling the client to close.
    let head = raw_call(&mut pooled).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    let mut fresh = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = raw_call(&mut fresh).await;
    assert!(head.contains("connection: close"), "{head}");
    let mut rest = Vec::new();
    fresh.read_to_end(&mut rest).await.unwrap();

    stopping.await.unwrap().unwrap();
    let refused = tokio::net::TcpStream::connect(address).await;
    assert!(refused.is_err(), "the listener is closed after the wait");
}
