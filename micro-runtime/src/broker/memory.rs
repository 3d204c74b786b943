//! The memory broker: fan-out inside one process.
//!
//! A real broker for single-process use, not a test double: subscribers of a topic all get each
//! message, except that a queue group gets each message once, on one member picked at random
//! (go-micro's memory broker ignores queue groups and delivers to every member).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::delivery::{Delivery, DeliverySender};
use super::{
    Broker, EventHandler, Message, SubscribeOptions, Subscription, Unsubscribe, check_topic,
    prepare_publish,
};
use crate::error::LocalError;
use crate::registry::BoxFuture;

/// In-process pub/sub.
#[derive(Clone, Default)]
pub struct MemoryBroker {
    topics: Arc<Mutex<HashMap<String, Vec<Subscriber>>>>,
    next_id: Arc<AtomicU64>,
}

impl std::fmt::Debug for MemoryBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBroker").finish_non_exhaustive()
    }
}

struct Subscriber {
    id: u64,
    queue: Option<String>,
    sender: DeliverySender,
}

impl MemoryBroker {
    /// An empty broker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Who gets a message on `topic`: every broadcast subscriber and one member per queue group.
    fn recipients(&self, topic: &str) -> Vec<DeliverySender> {
        let topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        let Some(subscribers) = topics.get(topic) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut groups: HashMap<&str, Vec<&DeliverySender>> = HashMap::new();
        for subscriber in subscribers {
            match &subscriber.queue {
                None => out.push(subscriber.sender.clone()),
                Some(queue) => groups.entry(queue).or_default().push(&subscriber.sender),
            }
        }
        for mut members in groups.into_values() {
            // A member with room in its buffer, when there is one: a slow member should not
            // make the group drop what another member could take.
            members.retain(|m| !m.is_closed());
            let ready: Vec<_> = members.iter().filter(|m| m.has_room()).collect();
            let pick = if ready.is_empty() {
                members.get(fastrand::usize(..members.len().max(1)))
            } else {
                ready.get(fastrand::usize(..ready.len())).copied()
            };
            out.extend(pick.map(|m| (*m).clone()));
        }
        out
    }
}

impl Broker for MemoryBroker {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn address(&self) -> String {
        String::new()
    }

    fn connect(&self) -> BoxFuture<'_, Result<(), LocalError>> {
        Box::pin(async { Ok(()) })
    }

    /// Does nothing: there is no connection, and the process shares one memory broker, so
    /// ending every subscription would end other services' too. Subscriptions end with their
    /// [`Subscription`].
    fn disconnect(&self) -> BoxFuture<'_, Result<(), LocalError>> {
        Box::pin(async { Ok(()) })
    }

    fn publish<'a>(
        &'a self,
        topic: &'a str,
        message: Message,
    ) -> BoxFuture<'a, Result<(), LocalError>> {
        Box::pin(async move {
            let message = prepare_publish(topic, message)?;
            for recipient in self.recipients(topic) {
                recipient.offer(message.clone());
            }
            Ok(())
        })
    }

    fn subscribe<'a>(
        &'a self,
        topic: &'a str,
        handler: EventHandler,
        options: SubscribeOptions,
    ) -> BoxFuture<'a, Result<Subscription, LocalError>> {
        Box::pin(async move {
            check_topic(topic)?;
            let delivery = Delivery::spawn(topic, handler, &options);
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            self.topics
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(topic.to_string())
                .or_default()
                .push(Subscriber {
                    id,
                    queue: options.queue.clone(),
                    sender: delivery.sender(),
                });
            let closer = Box::new(Unsubscriber {
                topics: Arc::clone(&self.topics),
                topic: topic.to_string(),
                id,
            });
            Ok(Subscription::new(topic, options, delivery, closer))
        })
    }
}

struct Unsubscriber {
    topics: Arc<Mutex<HashMap<String, Vec<Subscriber>>>>,
    topic: String,
    id: u64,
}

impl Unsubscribe for Unsubscriber {
    fn unsubscribe(self: Box<Self>) -> BoxFuture<'static, Result<(), LocalError>> {
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(subscribers) = topics.get_mut(&self.topic) {
            subscribers.retain(|s| s.id != self.id);
            if subscribers.is_empty() {
                topics.remove(&self.topic);
            }
        }
        Box::pin(async { Ok(()) })
    }
}
