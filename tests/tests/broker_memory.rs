//! The memory broker: the broker suite, typed subscribers through the server, and queue groups,
//! which go-micro's memory broker ignores.

use std::sync::Arc;

use micro_runtime::broker::{Broker, MemoryBroker, SubscribeOptions};
use tests::broker_suite::{self, Received, numbered, unique_topic};

fn shared() -> impl Fn() -> Arc<dyn Broker> {
    let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::new());
    move || Arc::clone(&broker)
}

tests::broker_suite_tests!(shared);

/// In one process, a queue member whose buffer is full is passed over while another has room, so
/// the group drops nothing that one of its members could take.
#[tokio::test]
async fn a_full_queue_member_is_passed_over() {
    let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::new());
    let topic = unique_topic("passed-over");
    let stuck = tokio::sync::Semaphore::new(0);
    let stuck = Arc::new(stuck);
    let gate = Arc::clone(&stuck);
    let blocked = micro_runtime::broker::event_handler(move |_| {
        let gate = Arc::clone(&gate);
        async move {
            let _ = gate.acquire().await;
            Ok(())
        }
    });
    let options = SubscribeOptions::new().queue("q");
    let slow = broker
        .subscribe(&topic, blocked, options.clone().buffer(1))
        .await
        .unwrap();
    let free = Received::default();
    let _free = broker
        .subscribe(&topic, free.handler(), options.buffer(200))
        .await
        .unwrap();
    for seq in 0..100 {
        broker.publish(&topic, numbered(seq)).await.unwrap();
    }
    let slow_took = slow.stats().received() - slow.stats().dropped();
    let free_got = free
        .wait_for(100 - slow_took as usize, "the free member")
        .await;
    assert_eq!(
        slow.stats().dropped(),
        0,
        "nothing dropped while a member had room"
    );
    assert_eq!(free_got.len() as u64 + slow_took, 100);
    stuck.close();
}

#[tokio::test]
async fn bad_topics_are_refused() {
    let broker = MemoryBroker::new();
    for topic in ["", "two words", "tab\there"] {
        let err = broker.publish(topic, numbered(0)).await.unwrap_err();
        assert!(err.to_string().contains("invalid topic"), "{err}");
    }
}

/// A handler that panics, before or after returning its future, costs one message: the panic is
/// logged and counted, and the subscription goes on.
#[tokio::test]
async fn a_panicking_handler_costs_one_message() {
    let logs = tests::logs::capture();
    let broker = MemoryBroker::new();
    let topic = unique_topic("panics");
    let received = Received::default();
    let record = received.handler();
    let handler = micro_runtime::broker::event_handler(move |event| {
        let seq: u64 = std::str::from_utf8(&event.message().body)
            .unwrap()
            .parse()
            .unwrap();
        // Seq 1 panics while making the future, seq 3 inside it.
        assert_ne!(seq, 1, "sync panic");
        let record = Arc::clone(&record);
        async move {
            assert_ne!(seq, 3, "async panic");
            record(event).await
        }
    });
    let subscription = broker
        .subscribe(&topic, handler, SubscribeOptions::new())
        .await
        .unwrap();
    for seq in 0..6 {
        broker.publish(&topic, numbered(seq)).await.unwrap();
    }
    assert_eq!(
        received.wait_for(4, "the handler after its panics").await,
        [0, 2, 4, 5]
    );
    assert_eq!(subscription.stats().failed(), 2);
    logs.wait_for(&[&topic, "panicked", "msg-1"], broker_suite::WAIT)
        .await;
    logs.wait_for(&[&topic, "panicked", "msg-3"], broker_suite::WAIT)
        .await;
}

/// Dropping a subscription ends it.
#[tokio::test]
async fn a_dropped_subscription_ends() {
    let broker = MemoryBroker::new();
    let topic = unique_topic("dropped");
    let (dropped, kept) = (Received::default(), Received::default());
    let subscription = broker
        .subscribe(&topic, dropped.handler(), SubscribeOptions::new())
        .await
        .unwrap();
    let _kept = broker
        .subscribe(&topic, kept.handler(), SubscribeOptions::new())
        .await
        .unwrap();
    broker.publish(&topic, numbered(0)).await.unwrap();
    dropped.wait_for(1, "before the drop").await;
    drop(subscription);
    broker.publish(&topic, numbered(1)).await.unwrap();
    kept.wait_for(2, "the kept subscription").await;
    assert_eq!(dropped.seen(), [0]);
}
