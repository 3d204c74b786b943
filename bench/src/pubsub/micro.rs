//! micro's brokers, used as a service would use them: the `Broker` trait, messages with the
//! headers micro's typed `Publisher` sets.
//!
//! The HTTP broker needs a registry both processes read. The subscriber registers in a memory
//! registry of its own and prints the record it registered; the publisher puts that very record
//! in its own memory registry. Steady-state publishing reads the registry from memory with any
//! backend (the selector's cache, kept fresh by a watch, for etcd or mDNS), so this measures the
//! broker, not the registry, and needs no third process competing for the cores.

use std::sync::Arc;

use bytes::Bytes;
use micro_runtime::broker::http::{HttpBroker, SERVICE_NAME};
use micro_runtime::broker::nats::NatsBroker;
use micro_runtime::broker::{
    Broker, CONTENT_TYPE_HEADER, ID_HEADER, Message, SubscribeOptions, Subscription,
    SubscriptionStats, event_handler,
};
use micro_runtime::registry::{MemoryRegistry, Registry, ServiceRecord};

use super::tally::Tally;
use super::{Publish, System, TOPIC};

/// A subscription kept alive, and what the publisher needs to reach it.
pub struct Subscribed {
    /// Ends the subscription when dropped, with the broker it came from.
    _subscription: Subscription,
    _broker: Arc<dyn Broker>,
    /// The subscription's counters (messages its buffer dropped).
    pub stats: Arc<SubscriptionStats>,
    /// For the HTTP broker, the registry records of the subscription as JSON; else `-`.
    pub node: String,
}

/// A broker for `system`, finding HTTP subscribers in `registry`.
fn broker(
    system: System,
    nats: Option<&str>,
    registry: Arc<MemoryRegistry>,
) -> anyhow::Result<Arc<dyn Broker>> {
    Ok(match system {
        System::Http => Arc::new(HttpBroker::new(registry).address("127.0.0.1:0")),
        System::Nats => Arc::new(NatsBroker::new(
            nats.ok_or_else(|| anyhow::anyhow!("--nats is required"))?,
        )?),
        System::Memory | System::RawNats => anyhow::bail!("{} is not a broker here", system.name()),
    })
}

/// Subscribes to [`TOPIC`] through `system`'s broker, each message counted by `tally`.
pub async fn subscribe(
    system: System,
    nats: Option<&str>,
    tally: Arc<Tally>,
) -> anyhow::Result<Subscribed> {
    let registry = Arc::new(MemoryRegistry::new());
    let broker = broker(system, nats, Arc::clone(&registry))?;
    let mut subscribed = subscribe_on(broker, tally).await?;
    if system == System::Http {
        let services = registry.get_service(SERVICE_NAME).await?;
        subscribed.node = serde_json::to_string(&services)?;
    }
    Ok(subscribed)
}

/// Subscribes to [`TOPIC`] on `broker` with the default options (a 1,024-message buffer).
pub async fn subscribe_on(
    broker: Arc<dyn Broker>,
    tally: Arc<Tally>,
) -> anyhow::Result<Subscribed> {
    let handler = event_handler(move |event| {
        tally.record(&event.message().body);
        async { Ok(()) }
    });
    let subscription = broker
        .subscribe(TOPIC, handler, SubscribeOptions::new())
        .await?;
    Ok(Subscribed {
        stats: Arc::clone(subscription.stats()),
        _subscription: subscription,
        _broker: broker,
        node: "-".to_owned(),
    })
}

/// Publishes through one of micro's brokers.
pub struct MicroPublisher {
    broker: Arc<dyn Broker>,
}

impl MicroPublisher {
    /// A publisher on `broker`.
    pub fn new(broker: Arc<dyn Broker>) -> Self {
        Self { broker }
    }

    /// A publisher for `system`; for HTTP, `node` is what the subscriber printed.
    pub async fn connect(
        system: System,
        nats: Option<&str>,
        node: Option<&str>,
    ) -> anyhow::Result<Self> {
        let registry = Arc::new(MemoryRegistry::new());
        if system == System::Http {
            let node = node.ok_or_else(|| anyhow::anyhow!("--node is required"))?;
            let services: Vec<ServiceRecord> = serde_json::from_str(node)?;
            for service in &services {
                registry.register(service, None).await?;
            }
        }
        let broker = broker(system, nats, registry)?;
        broker.connect().await?;
        Ok(Self::new(broker))
    }
}

impl Publish for MicroPublisher {
    async fn publish(&mut self, body: Bytes) -> anyhow::Result<()> {
        // The headers `Publisher::publish` sets; the broker adds `Micro-Topic`.
        let message = Message::new(body)
            .with_header(CONTENT_TYPE_HEADER, "application/octet-stream")
            .with_header(ID_HEADER, uuid::Uuid::new_v4().to_string());
        self.broker.publish(TOPIC, message).await?;
        Ok(())
    }
}
