//! `BroadcastBroker`, from outside micro-runtime, passes the suite every micro broker passes, and
//! carries typed events between services.

use std::sync::Arc;

use micro_plugins::BroadcastBroker;
use micro_runtime::broker::Broker;

fn shared() -> impl Fn() -> Arc<dyn Broker> {
    let broker: Arc<dyn Broker> = Arc::new(BroadcastBroker::new());
    move || Arc::clone(&broker)
}

tests::broker_suite_tests!(shared);
