//! This process's subscriptions: the table the inbox dispatches from, and each subscription's
//! node in the registry.
//!
//! Every subscription is one node of [`SERVICE_NAME`], registered with a TTL and re-registered
//! every interval by one loop per broker, as go-micro does. A subscription's registry writes are
//! serialised by its own lock, and an `ended` flag set without waiting marks it over, so a
//! re-register running late can never bring back a subscription that has ended.
//!
//! The table holds each subscription's `DeliverySender`; the entries handed out (to the
//! re-register loop, to unsubscribers) do not, so a slow registry never keeps a subscription's
//! handler task alive after it has left the table.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

use super::{BROADCAST_VERSION, Inner, SERVICE_NAME, lock};
use crate::broker::delivery::DeliverySender;
use crate::broker::{Unsubscribe, broker_error};
use crate::error::LocalError;
use crate::registry::{BoxFuture, Node, Registry, ServiceRecord};

/// The live subscriptions of one broker, by node id.
#[derive(Default)]
pub(super) struct Subscriptions {
    entries: Mutex<HashMap<String, Slot>>,
}

struct Slot {
    entry: Arc<Entry>,
    sender: DeliverySender,
}

impl Subscriptions {
    pub(super) fn insert(&self, entry: Arc<Entry>, sender: DeliverySender) {
        let id = entry.id().to_string();
        lock(&self.entries).insert(id, Slot { entry, sender });
    }

    /// Where the messages for node `id` go, while it is subscribed.
    pub(super) fn sender(&self, id: &str) -> Option<DeliverySender> {
        lock(&self.entries).get(id).map(|slot| slot.sender.clone())
    }

    /// Takes the subscription out of the table: the inbox no longer finds it (404), and its
    /// sender is dropped.
    pub(super) fn remove(&self, id: &str) {
        lock(&self.entries).remove(id);
    }

    /// Takes every subscription out of the table.
    pub(super) fn drain(&self) {
        lock(&self.entries).clear();
    }

    /// Every subscription in the table.
    pub(super) fn snapshot(&self) -> Vec<Arc<Entry>> {
        let entries = lock(&self.entries);
        entries
            .values()
            .map(|slot| Arc::clone(&slot.entry))
            .collect()
    }
}

/// One subscription's registry record.
pub(super) struct Entry {
    record: ServiceRecord,
    topic: String,
    // Set, without waiting, when the subscription ends: no register may happen after it.
    ended: AtomicBool,
    // Held across each registry write; `false` once deregistered for good.
    live: tokio::sync::Mutex<bool>,
}

impl Entry {
    /// The record go-micro's HTTP broker registers: node `<topic>-<uuid>` at the inbox address,
    /// version = the queue group or the broadcast version. The uuid is per subscription where Go
    /// uses one per broker, so that two subscriptions to a topic in one process stay apart.
    pub(super) fn new(topic: &str, queue: Option<&str>, address: String) -> Self {
        let metadata = [("broker", "http"), ("topic", topic), ("secure", "false")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let node = Node {
            id: format!("{topic}-{}", uuid::Uuid::new_v4()),
            address,
            metadata,
        };
        let record = ServiceRecord {
            name: SERVICE_NAME.to_string(),
            version: queue.unwrap_or(BROADCAST_VERSION).to_string(),
            metadata: None,
            endpoints: Vec::new(),
            nodes: vec![node],
        };
        Self {
            record,
            topic: topic.to_string(),
            ended: AtomicBool::new(false),
            live: tokio::sync::Mutex::new(true),
        }
    }

    /// The node id, which publishers send as `?id=`.
    pub(super) fn id(&self) -> &str {
        &self.record.nodes[0].id
    }

    pub(super) fn topic(&self) -> &str {
        &self.topic
    }

    /// Ends the subscription without waiting: no register happens from now on.
    pub(super) fn end(&self) {
        self.ended.store(true, Ordering::Release);
    }

    fn is_live(&self, live: &bool) -> bool {
        *live && !self.ended.load(Ordering::Acquire)
    }

    /// Registers the node; fails if the subscription ended meanwhile (the broker disconnected).
    pub(super) async fn register(
        &self,
        registry: &dyn Registry,
        ttl: Option<Duration>,
    ) -> Result<(), LocalError> {
        let live = self.live.lock().await;
        if !self.is_live(&live) {
            return Err(broker_error("the subscription ended while subscribing"));
        }
        registry.register(&self.record, ttl).await
    }

    /// Registers the node again, unless the subscription has ended; failures are logged (the
    /// next interval tries again, and the TTL allows for a few misses).
    async fn refresh(&self, registry: &dyn Registry, ttl: Option<Duration>) {
        let live = self.live.lock().await;
        if self.is_live(&live)
            && let Err(err) = registry.register(&self.record, ttl).await
        {
            tracing::warn!(node = %self.id(), topic = %self.topic, error = %err, "re-registering an HTTP broker subscription failed");
        }
    }

    /// Deregisters the node for good. Idempotent: only the first call reaches the registry.
    pub(super) async fn retire(&self, registry: &dyn Registry) -> Result<(), LocalError> {
        self.end();
        let mut live = self.live.lock().await;
        if !std::mem::replace(&mut *live, false) {
            return Ok(());
        }
        registry.deregister(&self.record).await
    }
}

/// Re-registers every subscription each `interval`, as go-micro's broker heartbeat does.
pub(super) fn spawn_reregister(
    subscriptions: Arc<Subscriptions>,
    registry: Arc<dyn Registry>,
    ttl: Option<Duration>,
    interval: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        if interval.is_zero() {
            return;
        }
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // immediate; every subscription registered itself just now
        loop {
            tick.tick().await;
            for entry in subscriptions.snapshot() {
                entry.refresh(registry.as_ref(), ttl).await;
            }
        }
    })
}

/// Ends one subscription: takes it out of the inbox's table, then deregisters its node. Holds
/// the broker's state, so the inbox serving the subscription lives as long as it does.
pub(super) struct Unsubscriber {
    broker: Arc<Inner>,
    entry: Arc<Entry>,
}

impl Unsubscriber {
    pub(super) fn new(broker: Arc<Inner>, entry: Arc<Entry>) -> Self {
        Self { broker, entry }
    }
}

impl Unsubscribe for Unsubscriber {
    fn unsubscribe(self: Box<Self>) -> BoxFuture<'static, Result<(), LocalError>> {
        // Before the first await, so that it holds even if the future is dropped at a deadline
        // (`unsubscribe_within`): the inbox refuses the node's messages (404; publishers move a
        // queue group's message to another member), the sender is gone, and no re-register can
        // bring the record back. Only the deregister below may be cut short; the TTL ends it then.
        self.entry.end();
        self.broker.subscriptions.remove(self.entry.id());
        Box::pin(async move {
            let registry = self.broker.registry.as_ref();
            self.entry.retire(registry).await.map_err(|err| {
                broker_error(format!(
                    "unsubscribed from {}, but deregistering node {} from the {} registry failed",
                    self.entry.topic(),
                    self.entry.id(),
                    registry.name()
                ))
                .with_source(err)
            })
        })
    }
}
