//! `BroadcastBroker`, from outside micro-runtime, passes the suite every micro broker passes, and
//! carries typed events between services.

use std::sync::Arc;

use micro_plugins::BroadcastBroker;
use micro_runtime::broker::Broker;
use tests::{broker_suite, subscriber_suite};

fn shared() -> impl Fn() -> Arc<dyn Broker> {
    let broker: Arc<dyn Broker> = Arc::new(BroadcastBroker::new());
    move || Arc::clone(&broker)
}

#[tokio::test]
async fn broadcast_reaches_every_subscriber() {
    broker_suite::broadcast_reaches_every_subscriber(&shared()).await;
}

#[tokio::test]
async fn queue_group_delivers_each_message_once() {
    broker_suite::queue_group_delivers_each_message_once(&shared()).await;
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    broker_suite::unsubscribe_stops_delivery(&shared()).await;
}

#[tokio::test]
async fn slow_subscriber_does_not_block_others() {
    broker_suite::slow_subscriber_does_not_block_others(&shared()).await;
}

#[tokio::test]
async fn oversized_headers_fail_at_publish() {
    broker_suite::oversized_headers_fail_at_publish(&shared()).await;
}

#[tokio::test]
async fn typed_subscribers() {
    subscriber_suite::typed_subscribers(&shared()).await;
}
