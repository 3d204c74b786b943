//! Subscribers through the server: their lifetime follows the server's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use micro_runtime::broker::{Broker, MemoryBroker, SubscribeOptions};
use micro_runtime::server::Server;
use micro_runtime::{Context, Error, LocalErrorKind, Publisher};
use tests::broker_suite::{Received, WAIT, unique_topic};
use tests::proto::events::OrderPlaced;
use tests::support;

fn order(seq: u64) -> OrderPlaced {
    OrderPlaced {
        seq,
        ..OrderPlaced::default()
    }
}

fn recording(
    received: &Received,
) -> impl Fn(Context, OrderPlaced) -> std::future::Ready<Result<(), Error>> + Send + Sync + 'static
{
    let received = received.clone();
    move |_ctx, event: OrderPlaced| {
        received.push(event.seq);
        std::future::ready(Ok(()))
    }
}

/// Once `stop` returns, the server's subscribers hear nothing more; another subscriber of the
/// topic shows the later messages were published and delivered.
#[tokio::test]
async fn a_stopped_server_hears_nothing_more() {
    let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::new());
    let topic = unique_topic("stopped");
    let (server_side, witness) = (Received::default(), Received::default());
    let running = Server::new("listener")
        .registry(support::registry())
        .broker(Arc::clone(&broker))
        .subscribe(&topic, recording(&server_side))
        .start()
        .await
        .unwrap();
    let _witness = broker
        .subscribe(
            &topic,
            witness.handler_for_orders(),
            SubscribeOptions::new(),
        )
        .await
        .unwrap();
    let publisher = Publisher::<OrderPlaced>::new(Arc::clone(&broker), &topic);
    publisher.publish(&Context::new(), &order(0)).await.unwrap();
    server_side.wait_for(1, "while serving").await;

    running.stop().await.unwrap();
    publisher.publish(&Context::new(), &order(1)).await.unwrap();
    witness.wait_for(2, "the witness").await;
    assert_eq!(server_side.seen(), [0]);
}

/// A subscriber stuck in its handler does not hold `stop` beyond the drain timeout.
#[tokio::test]
async fn stop_gives_a_stuck_subscriber_the_drain_timeout() {
    let logs = tests::logs::capture();
    let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::new());
    let topic = unique_topic("stuck");
    let started = Arc::new(tokio::sync::Notify::new());
    let entered = Arc::clone(&started);
    let running = Server::new("stuck")
        .registry(support::registry())
        .broker(Arc::clone(&broker))
        .drain_timeout(Duration::from_millis(300))
        .subscribe(&topic, move |_ctx, _event: OrderPlaced| {
            entered.notify_one();
            std::future::pending::<Result<(), Error>>()
        })
        .start()
        .await
        .unwrap();
    let publisher = Publisher::<OrderPlaced>::new(Arc::clone(&broker), &topic);
    for seq in 0..3 {
        publisher
            .publish(&Context::new(), &order(seq))
            .await
            .unwrap();
    }
    tokio::time::timeout(WAIT, started.notified())
        .await
        .expect("the handler started");

    let stopping = Instant::now();
    tokio::time::timeout(WAIT, running.stop())
        .await
        .expect("stop returns")
        .unwrap();
    let took = stopping.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "stop waited for the handler: {took:?}"
    );
    logs.wait_for(
        &[
            &topic,
            "subscriber stopped with messages unhandled",
            "left=3",
        ],
        WAIT,
    )
    .await;
}

/// A subscription that cannot be made fails `start` and ends the ones already made.
#[tokio::test]
async fn a_failed_subscription_fails_start_and_ends_the_others() {
    let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::new());
    let topic = unique_topic("first");
    let received = Received::default();
    let err = Server::new("half")
        .registry(support::registry())
        .broker(Arc::clone(&broker))
        .subscribe(&topic, recording(&received))
        .subscribe("not a topic", recording(&received))
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), LocalErrorKind::Config, "{err}");
    assert!(
        err.to_string().contains("cannot subscribe to not a topic"),
        "{err}"
    );

    let witness = Received::default();
    let _witness = broker
        .subscribe(
            &topic,
            witness.handler_for_orders(),
            SubscribeOptions::new(),
        )
        .await
        .unwrap();
    Publisher::<OrderPlaced>::new(Arc::clone(&broker), &topic)
        .publish(&Context::new(), &order(0))
        .await
        .unwrap();
    witness.wait_for(1, "the witness").await;
    assert!(
        received.seen().is_empty(),
        "the first subscription ended with the failed start"
    );
}
