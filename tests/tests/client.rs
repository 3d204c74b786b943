//! Client behaviour: failover to another node, the address option, selector filters, wrappers,
//! and graceful shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use micro_runtime::client::{CallRequest, CallResponse};
use micro_runtime::middleware::{Next, from_fn};
use micro_runtime::registry::{Node, ServiceRecord};
use micro_runtime::selector::Filter;
use micro_runtime::server::Server;
use micro_runtime::server::{Request, Response};
use micro_runtime::{CallOptions, Client, Error};
use tests::handlers::Greeter;
use tests::proto::greeter::{GreeterClient, GreeterServer, HelloRequest};
use tests::support;

fn hello(name: &str) -> HelloRequest {
    HelloRequest { name: name.into() }
}

/// A free loopback port with nothing listening on it.
async fn dead_address() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    address
}

#[tokio::test]
async fn a_node_that_refuses_connections_is_skipped_for_another() {
    let registry = support::registry();
    let server = support::start("greeter", &registry, GreeterServer::new(Greeter::default())).await;
    // Two dead nodes registered beside the live one: every call must still succeed.
    for i in 0..2 {
        let dead = ServiceRecord {
            name: "greeter".into(),
            version: "latest".into(),
            nodes: vec![Node {
                id: format!("dead-{i}"),
                address: dead_address().await,
                ..Node::default()
            }],
            ..ServiceRecord::default()
        };
        registry.register(&dead, None).await.unwrap();
    }
    let client = GreeterClient::new("greeter", support::client(&registry));
    for _ in 0..20 {
        assert_eq!(client.hello(hello("x")).await.unwrap().greeting, "Hello x");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_timed_out_call_is_retried_on_another_node_only_when_idempotent() {
    let registry = support::registry();
    let (a, b) = (Greeter::default(), Greeter::default());
    let server_a = support::start("greeter", &registry, GreeterServer::new(a.clone())).await;
    let server_b = support::start("greeter", &registry, GreeterServer::new(b.clone())).await;
    let client = GreeterClient::new("greeter", support::client(&registry));
    let calls = || a.calls.load(Ordering::SeqCst) + b.calls.load(Ordering::SeqCst);

    let quick = CallOptions::new().timeout(Duration::from_millis(150));
    assert_eq!(
        client
            .hello_with(hello("slow"), quick.clone())
            .await
            .unwrap_err()
            .code,
        408
    );
    assert_eq!(calls(), 1, "not idempotent: never sent twice");

    // Idempotent: the one deadline covers both attempts, and the second goes to the other node.
    let before = (
        a.calls.load(Ordering::SeqCst),
        b.calls.load(Ordering::SeqCst),
    );
    let err = client
        .hello_with(hello("slow"), quick.idempotent(true))
        .await
        .unwrap_err();
    assert_eq!(err.code, 408);
    let after = (
        a.calls.load(Ordering::SeqCst),
        b.calls.load(Ordering::SeqCst),
    );
    assert!(after.0 > before.0 || after.1 > before.1);
    server_a.stop().await.unwrap();
    server_b.stop().await.unwrap();
}

#[tokio::test]
async fn the_address_option_bypasses_the_registry() {
    let registry = support::registry();
    let server = support::start("greeter", &registry, GreeterServer::new(Greeter::default())).await;
    // A client on an empty registry still reaches the server by address.
    let client = GreeterClient::new("greeter", support::client(&support::registry()));
    let err = client.hello(hello("x")).await.unwrap_err();
    assert_eq!(err.code, 404, "{err}");
    assert!(err.detail.contains("service greeter: not found"), "{err}");
    let options = CallOptions::new().address(server.local_addr().to_string());
    assert_eq!(
        client
            .hello_with(hello("x"), options)
            .await
            .unwrap()
            .greeting,
        "Hello x"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_address_is_a_clear_error() {
    let client = GreeterClient::new("greeter", support::client(&support::registry()));
    let err = client
        .hello_with(hello("x"), CallOptions::new().address(dead_address().await))
        .await
        .unwrap_err();
    assert_eq!(err.code, 500);
    assert!(err.detail.contains("connection error"), "{err}");
}

#[tokio::test]
async fn filters_pick_nodes_by_version_and_label() {
    let registry = support::registry();
    let start = |version: &'static str, zone: &'static str| {
        let registry = registry.clone();
        async move {
            Server::new("greeter")
                .version(version)
                .metadata("zone", zone)
                .registry(registry)
                .handle(GreeterServer::new(Greeter {
                    node: format!("{version}/{zone}"),
                    ..Greeter::default()
                }))
                .start()
                .await
                .unwrap()
        }
    };
    let servers = [
        start("v1", "a").await,
        start("v2", "a").await,
        start("v2", "b").await,
    ];
    let client = GreeterClient::new("greeter", support::client(&registry));
    for _ in 0..10 {
        let v1 = client
            .hello_with(
                hello("which-node"),
                CallOptions::new().filter(Filter::version("v1")),
            )
            .await
            .unwrap();
        assert_eq!(v1.greeting, "v1/a");
        let b = client
            .hello_with(
                hello("which-node"),
                CallOptions::new().filter(Filter::label("zone", "b")),
            )
            .await
            .unwrap();
        assert_eq!(b.greeting, "v2/b");
    }
    let none = client
        .hello_with(hello("x"), CallOptions::new().filter(Filter::version("v9")))
        .await
        .unwrap_err();
    assert_eq!(none.code, 503, "{none}");
    for server in servers {
        server.stop().await.unwrap();
    }
}

#[tokio::test]
async fn layers_run_around_calls_on_both_sides() {
    let registry = support::registry();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let server = Server::new("greeter")
        .registry(registry.clone())
        .layer(from_fn(
            |request: Request, next: Next<Request, Response>| async move {
                if request.ctx().metadata().get("Authorization") != Some("secret") {
                    return Err(Error::unauthorized("who are you?").into());
                }
                next.run(request).await
            },
        ))
        .layer(from_fn(
            move |request: Request, next: Next<Request, Response>| {
                counter.fetch_add(1, Ordering::SeqCst);
                next.run(request)
            },
        ))
        .handle(GreeterServer::new(Greeter::default()))
        .start()
        .await
        .unwrap();

    let plain = GreeterClient::new("greeter", support::client(&registry));
    let refused = plain.hello(hello("x")).await.unwrap_err();
    assert_eq!((refused.code, refused.id.as_str()), (401, "greeter"));
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "the outer layer refused before the inner ran"
    );

    // A client layer adds the credential to every call.
    let authed = Client::builder(registry.clone())
        .layer(from_fn(
            |mut call: CallRequest, next: Next<CallRequest, CallResponse>| async move {
                call.metadata_mut().insert("Authorization", "secret");
                next.run(call).await
            },
        ))
        .build();
    let authed = GreeterClient::new("greeter", authed);
    assert_eq!(authed.hello(hello("x")).await.unwrap().greeting, "Hello x");
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn stop_finishes_calls_in_flight_and_deregisters() {
    let registry = support::registry();
    let server = support::start("greeter", &registry, GreeterServer::new(Greeter::default())).await;
    let client = GreeterClient::new("greeter", support::client(&registry));
    let in_flight = tokio::spawn({
        let client = client.clone();
        async move { client.hello(hello("slow")).await }
    });
    // Wait until the call is on the server (the handler counts it) before stopping.
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop().await.unwrap();
    assert_eq!(in_flight.await.unwrap().unwrap().greeting, "Hello slow");
    assert!(registry.get_service("greeter").await.unwrap().is_empty());
}

#[tokio::test]
async fn the_drain_timeout_bounds_shutdown() {
    let registry = support::registry();
    let server = Server::new("greeter")
        .registry(registry.clone())
        .drain_timeout(Duration::from_millis(50))
        .handle(GreeterServer::new(Greeter::default()))
        .start()
        .await
        .unwrap();
    let client = GreeterClient::new("greeter", support::client(&registry));
    let in_flight = tokio::spawn(async move { client.hello(hello("slow")).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    server.stop().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(350),
        "stop waited {:?}",
        started.elapsed()
    );
    assert!(
        in_flight.await.unwrap().is_err(),
        "the call cut off by the drain timeout fails"
    );
}
