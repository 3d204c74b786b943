//! Pub/sub: an `orders` service publishes `OrderPlaced` events on the `orders` topic; two
//! `billing` instances share them as queue group `billing` (each event billed once), and an
//! `audit` service sees every one.
//!
//! ```text
//! cargo run -p examples --bin pubsub                      # the HTTP broker, go-micro's default
//! MICRO_BROKER=nats cargo run -p examples --bin pubsub    # NATS at nats://127.0.0.1:4222
//! ```
//! Each service has its own broker connection, as separate processes would: with the HTTP broker
//! each serves an inbox and registers its subscriptions; with NATS each has its own connection.
//! `--events N` sets how many events are published (default 10).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Arg, Command, value_parser};
use examples::events::OrderPlaced;
use micro_runtime::Environment;
use micro_runtime::broker::SubscribeOptions;
use micro_runtime::registry::shared_memory_registry;
use micro_runtime::{Context, Service};
use tokio::sync::mpsc;

/// Which subscriber got which event.
struct Receipt {
    who: String,
    seq: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging();
    let args = Command::new("pubsub")
        .about("One publisher, a queue group of two subscribers and a broadcast subscriber")
        .arg(
            Arg::new("events")
                .long("events")
                .default_value("10")
                .value_parser(value_parser!(u64))
                .help("How many events to publish"),
        )
        .get_matches();
    let events = *args.get_one::<u64>("events").expect("has a default");
    let (receipts, mut received) = mpsc::unbounded_channel::<Receipt>();

    // One process: the process's memory registry. The broker is the one MICRO_BROKER names.
    let mut running = Vec::new();
    for instance in ["billing-1", "billing-2"] {
        let receipts = receipts.clone();
        let billing = service("billing")?.subscribe_with(
            "orders",
            SubscribeOptions::new().queue("billing"),
            move |_ctx: Context, order: OrderPlaced| {
                let receipts = receipts.clone();
                async move {
                    println!(
                        "{instance}: billed {} ({} cents)",
                        order.order_id, order.amount_cents
                    );
                    let _ = receipts.send(Receipt {
                        who: instance.into(),
                        seq: order.seq,
                    });
                    Ok(())
                }
            },
        );
        running.push(billing.start().await?);
    }
    let audit = service("audit")?.subscribe("orders", move |ctx: Context, order: OrderPlaced| {
        let receipts = receipts.clone();
        async move {
            println!(
                "audit:     saw {} (message {})",
                order.order_id,
                ctx.request_id()
            );
            let _ = receipts.send(Receipt {
                who: "audit".into(),
                seq: order.seq,
            });
            Ok(())
        }
    });
    running.push(audit.start().await?);

    let orders = service("orders")?;
    println!(
        "publishing {} events through the {} broker",
        events,
        orders.broker().name()
    );
    let publisher = orders.publisher::<OrderPlaced>("orders");
    for seq in 0..events {
        let order = OrderPlaced {
            seq,
            order_id: format!("order-{seq}"),
            amount_cents: 250 * (seq as i64 + 1),
        };
        publisher.publish(&Context::new(), &order).await?;
    }

    // Every event should reach audit once and the billing group once.
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let expected = events * 2;
    let mut total = 0;
    while total < expected {
        let receipt = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .context("timed out waiting for events to arrive")?
            .context("the subscribers stopped")?;
        debug_assert!(receipt.seq < events);
        *counts.entry(receipt.who).or_default() += 1;
        total += 1;
    }
    let billed = counts.get("billing-1").unwrap_or(&0) + counts.get("billing-2").unwrap_or(&0);
    let audited = counts.get("audit").copied().unwrap_or(0);
    println!(
        "billing group: {billed} of {} events (billing-1 {}, billing-2 {}); audit: {audited} of {}",
        events,
        counts.get("billing-1").unwrap_or(&0),
        counts.get("billing-2").unwrap_or(&0),
        events
    );
    for server in running {
        server.stop().await?;
    }
    if billed != events || audited != events {
        bail!("events were lost or repeated");
    }
    Ok(())
}

/// A service on the process's memory registry, with the broker MICRO_BROKER names. The
/// environment overrides the code here (go-micro's rule), so `MICRO_REGISTRY=etcd` re-points the
/// example at etcd without editing it.
fn service(name: &str) -> anyhow::Result<Service> {
    Ok(Service::builder(name)
        .registry(shared_memory_registry())
        .environment(Environment::Overrides)
        .build()?)
}
