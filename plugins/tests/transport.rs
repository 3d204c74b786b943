//! `InProcess`, from outside micro-runtime, passes the suite every micro transport passes, and
//! refuses what it cannot do with a clear error.

use std::sync::Arc;

use micro_plugins::InProcess;
use micro_runtime::registry::Registry;
use micro_runtime::server::RunningServer;
use micro_runtime::transport::Transport;
use tests::handlers::Greeter;
use tests::proto::greeter::{GreeterClient, GreeterServer, HelloRequest};
use tests::transport_suite as suite;

fn in_process() -> Arc<dyn Transport> {
    Arc::new(InProcess::new())
}

/// Runs one suite test on a fresh in-process network.
async fn on_in_process<F: Future<Output = ()>>(test: impl FnOnce(Arc<dyn Transport>) -> F) {
    test(in_process()).await;
}

tests::transport_suite_tests!(on_in_process);

/// A greeter on a fresh in-process network: the transport, its registry and the server.
async fn greeter() -> (Arc<dyn Transport>, Arc<dyn Registry>, RunningServer) {
    let transport = in_process();
    let registry = tests::support::registry();
    let handler = GreeterServer::new(Greeter::default());
    let server = suite::start("greeter", &transport, &registry, handler).await;
    (transport, registry, server)
}

#[tokio::test]
async fn nodes_register_in_process_addresses() {
    let (_, _, server) = greeter().await;
    assert!(
        server.node().address.starts_with("inproc:"),
        "{}",
        server.node().address
    );
    assert_eq!(server.listen_address(), server.node().address);
    assert_eq!(server.node().metadata["transport"], "inproc");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_call_to_a_stopped_node_is_a_connection_error() {
    let (transport, registry, server) = greeter().await;
    let address = server.node().address.clone();
    server.stop().await.unwrap();
    let client = GreeterClient::new("greeter", suite::client(&transport, &registry));
    let options = micro_runtime::CallOptions::new().address(address.clone());
    let err = client
        .hello_with(
            HelloRequest {
                name: "John".into(),
            },
            options,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, 500, "{err}");
    assert!(err.detail.contains("no in-process listener"), "{err}");
}

#[tokio::test]
async fn a_name_in_use_is_refused() {
    let transport = InProcess::new();
    let _first = transport.listen("orders").await.unwrap();
    let Err(err) = transport.listen("orders").await else {
        panic!("a second listener on one name");
    };
    assert!(err.to_string().contains("orders"), "{err}");
}

#[tokio::test]
async fn separate_instances_are_separate_networks() {
    let (a, b) = (InProcess::new(), InProcess::new());
    let listener = a.listen("orders").await.unwrap();
    let err = b
        .dial("orders", std::time::Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    drop(listener);
}

#[tokio::test]
async fn services_built_on_it_call_each_other() {
    // Two services in one process, each given the transport once: the greeter serves on it, and
    // the front service's client (which the builder gave the same transport) calls through it.
    use micro_runtime::Service;
    let transport = Arc::new(InProcess::new());
    let registry = tests::support::registry();
    let greeter = Service::builder("greeter")
        .registry(Arc::clone(&registry))
        .transport(Arc::clone(&transport))
        .environment(micro_runtime::service::Environment::Ignored)
        .build()
        .unwrap()
        .handle(GreeterServer::new(Greeter::default()))
        .start()
        .await
        .unwrap();
    let front = Service::builder("front")
        .registry(Arc::clone(&registry))
        .transport(Arc::clone(&transport))
        .environment(micro_runtime::service::Environment::Ignored)
        .build()
        .unwrap();
    let client = GreeterClient::new("greeter", front.client());
    let reply = client
        .hello(HelloRequest {
            name: "John".into(),
        })
        .await
        .unwrap();
    assert_eq!(reply.greeting, "Hello John");
    assert!(greeter.node().address.starts_with("inproc:"));
    greeter.stop().await.unwrap();
}
