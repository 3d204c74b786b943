//! Publish and exit, as a CLI or a cron job does: publishes `OrderPlaced` events on a topic, then
//! exits at once. Nothing is lost to the exit: the broker's `disconnect` (or the stop of the
//! service that built the broker) first waits until every event is in its subscribers' inboxes
//! (HTTP) or at the NATS server.
//!
//! ```text
//! # the subscribers must share the registry: etcd here, or mDNS (the default) on one network
//! MICRO_REGISTRY=etcd cargo run -p examples --bin publish -- --count 3
//! MICRO_REGISTRY=etcd cargo run -p examples --bin publish -- --count 3 --exit stop
//! MICRO_BROKER=nats cargo run -p examples --bin publish
//! ```
//! `--topic` sets the topic (default `orders`), `--count` how many events (default 3), and
//! `--exit` how the process ends: `disconnect` (the default: the broker alone, for a process
//! that serves nothing) or `stop` (a started service's stop).

use anyhow::Context as _;
use clap::{Arg, Command, value_parser};
use examples::events::OrderPlaced;
use micro_runtime::{Context, Service};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging();
    let args = Command::new("publish")
        .about("Publishes events and exits right after")
        .arg(
            Arg::new("topic")
                .long("topic")
                .default_value("orders")
                .help("The topic to publish on"),
        )
        .arg(
            Arg::new("count")
                .long("count")
                .default_value("3")
                .value_parser(value_parser!(u64))
                .help("How many events to publish"),
        )
        .arg(
            Arg::new("exit")
                .long("exit")
                .default_value("disconnect")
                .value_parser(["disconnect", "stop"])
                .help("How to end: disconnect the broker, or stop the started service"),
        )
        .get_matches();
    let topic = args.get_one::<String>("topic").expect("has a default");
    let count = *args.get_one::<u64>("count").expect("has a default");
    let by_stop = args.get_one::<String>("exit").expect("has a default") == "stop";

    // The registry and broker are the ones MICRO_REGISTRY and MICRO_BROKER name.
    let service = Service::builder("publisher").build()?;
    let broker = service.broker();
    let publisher = service.publisher::<OrderPlaced>(topic.as_str());
    let running = match by_stop {
        true => Some(service.start().await?),
        false => None,
    };
    for seq in 0..count {
        let order = OrderPlaced {
            seq,
            order_id: format!("order-{seq}"),
            amount_cents: 100,
        };
        publisher.publish(&Context::new(), &order).await?;
    }
    // `publish` returned as soon as the broker took each event; delivery happens here.
    match running {
        Some(running) => running.stop().await.context("stopping the service")?,
        None => broker
            .disconnect()
            .await
            .context("disconnecting the broker")?,
    }
    println!(
        "published {count} events on {topic} through the {} broker",
        broker.name()
    );
    Ok(())
}
