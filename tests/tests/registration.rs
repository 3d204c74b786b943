//! The server's registration lifecycle, in paused time: register on start, re-register before the
//! TTL runs out, deregister on stop; without re-registering, the TTL removes the node.

use std::time::Duration;

use micro_runtime::server::Server;
use tests::handlers::Greeter;
use tests::proto::greeter::GreeterServer;
use tests::support;

#[tokio::test(start_paused = true)]
async fn re_registering_keeps_the_node_past_its_ttl() {
    let registry = support::registry();
    let server = Server::new("greeter")
        .registry(registry.clone())
        .register_ttl(Duration::from_secs(10))
        .register_interval(Duration::from_secs(3))
        .handle(GreeterServer::new(Greeter::default()))
        .start()
        .await
        .unwrap();
    // Paused time jumps ahead whenever every task is idle: this is a minute of registry time.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let services = registry.get_service("greeter").await.unwrap();
    assert_eq!(services.len(), 1, "still registered after six TTLs");
    assert_eq!(services[0].nodes[0].id, server.node().id);
    server.stop().await.unwrap();
    assert!(
        registry.get_service("greeter").await.unwrap().is_empty(),
        "deregistered on stop"
    );
}

#[tokio::test(start_paused = true)]
async fn without_re_registering_the_ttl_removes_the_node() {
    let registry = support::registry();
    let server = Server::new("greeter")
        .registry(registry.clone())
        .register_ttl(Duration::from_secs(10))
        .register_interval(Duration::ZERO)
        .handle(GreeterServer::new(Greeter::default()))
        .start()
        .await
        .unwrap();
    assert_eq!(registry.get_service("greeter").await.unwrap().len(), 1);
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert!(
        registry.get_service("greeter").await.unwrap().is_empty(),
        "expired with its TTL"
    );
    server.stop().await.unwrap();
}
