//! Publish-then-exit delivers: the `publish` example, a separate process, publishes 3 events and
//! exits right after `disconnect` (or its service's stop), while a subscriber in this test
//! receives them. With the HTTP broker the two processes share a real etcd; with NATS a real
//! nats-server. Before `Broker::flush`, the HTTP broker's `disconnect` dropped its queues and
//! the subscriber got 0 of 3.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::{clear_micro_env, run};
use micro_runtime::broker::http::HttpBroker;
use micro_runtime::broker::nats::NatsBroker;
use micro_runtime::broker::{Broker, SubscribeOptions, Subscription, event_handler};
use micro_runtime::registry::EtcdRegistry;
use tests::etcd::EtcdServer;
use tests::nats::NatsServer;
use tokio::sync::mpsc;

// The longest any awaited event may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);

/// Runs `publish` to success with `args` and `env` (and no other `MICRO_*` variable), on a
/// blocking thread, so that the test's subscriber goes on serving meanwhile.
async fn publish(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_publish"));
    clear_micro_env(&mut command);
    command.args(args).envs(env.iter().copied());
    tokio::task::spawn_blocking(move || run(&mut command))
        .await
        .unwrap()
}

/// Subscribes to `topic` on `broker`; the channel gets each message's `Micro-Topic` header.
async fn subscribe(
    broker: &dyn Broker,
    topic: &str,
) -> (Subscription, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handler = event_handler(move |event| {
        let _ = tx.send(event.topic().to_string());
        async { Ok(()) }
    });
    let subscription = broker
        .subscribe(topic, handler, SubscribeOptions::new())
        .await
        .unwrap();
    (subscription, rx)
}

/// Waits for `n` messages on `rx`.
async fn handled(rx: &mut mpsc::UnboundedReceiver<String>, n: usize) {
    for _ in 0..n {
        tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("timed out waiting for a message")
            .expect("the subscription ended");
    }
}

/// A publisher process on the HTTP broker ending with `exit`, its subscriber in this process,
/// both finding each other in one etcd.
async fn http_publisher_exits_by(exit: &str) {
    let etcd = EtcdServer::start().await;
    let registry = Arc::new(EtcdRegistry::new(etcd.options()).unwrap());
    let subscriber = HttpBroker::new(registry);
    let topic = format!("exit-by-{exit}");
    let (subscription, mut rx) = subscribe(&subscriber, &topic).await;

    let address = etcd.client_address();
    let env = [
        ("MICRO_REGISTRY", "etcd"),
        ("MICRO_REGISTRY_ADDRESS", address.as_str()),
    ];
    let output = publish(&["--topic", &topic, "--exit", exit], &env).await;
    assert!(output.contains("published 3 events"), "{output}");
    // In the inbox by the time the process has exited, not merely on their way.
    assert_eq!(subscription.stats().received(), 3);
    handled(&mut rx, 3).await;

    subscription.unsubscribe().await.unwrap();
    subscriber.disconnect().await.unwrap();
}

#[tokio::test]
async fn an_http_publisher_that_disconnects_and_exits_delivers_everything() {
    http_publisher_exits_by("disconnect").await;
}

#[tokio::test]
async fn an_http_publisher_whose_service_stops_and_exits_delivers_everything() {
    http_publisher_exits_by("stop").await;
}

#[tokio::test]
async fn a_nats_publisher_that_disconnects_and_exits_delivers_everything() {
    let nats = NatsServer::start().await;
    let url = nats.url();
    let subscriber = NatsBroker::new(url.as_str()).unwrap();
    let (subscription, mut rx) = subscribe(&subscriber, "nats-exit").await;

    let env = [
        ("MICRO_BROKER", "nats"),
        ("MICRO_BROKER_ADDRESS", url.as_str()),
        // The service needs a registry; the memory one involves no other process.
        ("MICRO_REGISTRY", "memory"),
    ];
    let output = publish(&["--topic", "nats-exit"], &env).await;
    assert!(output.contains("through the nats broker"), "{output}");
    // The server had all 3 before the publisher exited; it forwards them on its own.
    handled(&mut rx, 3).await;

    subscription.unsubscribe().await.unwrap();
    subscriber.disconnect().await.unwrap();
}
