//! [`BroadcastBroker`]: in-process pub/sub on tokio broadcast channels, one per topic.
//!
//! Built from micro-runtime's broker parts as any broker crate would be: each subscription gets a
//! [`Delivery`] (its bounded buffer and handler task), a task forwards the topic's channel into
//! it, and an [`Unsubscribe`] ends it. A queue group shares one forwarding task, which hands each
//! message to its members in turn.
//!
//! At-most-once, like micro's brokers: a forwarding task that falls more than the channel's
//! capacity behind skips what it missed (counted as dropped and logged).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use micro_runtime::LocalError;
use micro_runtime::broker::{
    Broker, Delivery, DeliverySender, EventHandler, Message, SubscribeOptions, Subscription,
    Unsubscribe, check_topic, prepare_publish,
};
use micro_runtime::registry::BoxFuture;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// Messages a topic's channel holds for forwarding tasks that are behind.
const CHANNEL: usize = 4096;

/// In-process pub/sub on broadcast channels; cheap to clone, clones share the topics.
#[derive(Clone, Default)]
pub struct BroadcastBroker {
    topics: Arc<Mutex<Topics>>,
}

#[derive(Default)]
struct Topics {
    channels: HashMap<String, broadcast::Sender<Message>>,
    // (topic, queue) → the group's members and its forwarding task.
    groups: HashMap<(String, String), Group>,
}

struct Group {
    members: Arc<Mutex<Vec<(u64, DeliverySender)>>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for BroadcastBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BroadcastBroker").finish_non_exhaustive()
    }
}

impl BroadcastBroker {
    /// A broker with no topics.
    pub fn new() -> Self {
        Self::default()
    }

    fn channel(&self, topic: &str) -> broadcast::Sender<Message> {
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        topics
            .channels
            .entry(topic.to_string())
            .or_insert_with(|| broadcast::channel(CHANNEL).0)
            .clone()
    }
}

impl Broker for BroadcastBroker {
    fn name(&self) -> &'static str {
        "broadcast"
    }

    fn address(&self) -> String {
        String::new()
    }

    fn connect(&self) -> BoxFuture<'_, Result<(), LocalError>> {
        Box::pin(async { Ok(()) })
    }

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
            // No receivers is no subscribers: not an error.
            let _ = self.channel(topic).send(message);
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
            let sender = delivery.sender();
            let channel = self.channel(topic);
            let closer: Box<dyn Unsubscribe> = match &options.queue {
                None => {
                    let task = tokio::spawn(forward(channel.subscribe(), move |message| {
                        sender.offer(message);
                        !sender.is_closed()
                    }));
                    Box::new(Forwarder(task))
                }
                Some(queue) => self.join_group(topic, queue, sender, &channel),
            };
            Ok(Subscription::new(topic, options, delivery, closer))
        })
    }
}

impl BroadcastBroker {
    /// Adds a member to a queue group, starting the group's forwarding task if it is the first.
    fn join_group(
        &self,
        topic: &str,
        queue: &str,
        sender: DeliverySender,
        channel: &broadcast::Sender<Message>,
    ) -> Box<dyn Unsubscribe> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let key = (topic.to_string(), queue.to_string());
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        let group = topics.groups.entry(key.clone()).or_insert_with(|| {
            let members: Arc<Mutex<Vec<(u64, DeliverySender)>>> = Arc::default();
            let turn = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let shared = Arc::clone(&members);
            let task = tokio::spawn(forward(channel.subscribe(), move |message| {
                let members = shared.lock().unwrap_or_else(|e| e.into_inner());
                if members.is_empty() {
                    return true;
                }
                let next = turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // Each message to one member: the next in turn with room, else the next in turn.
                let start = next % members.len();
                let pick = (0..members.len())
                    .map(|i| &members[(start + i) % members.len()].1)
                    .find(|member| member.has_room())
                    .unwrap_or(&members[start].1);
                pick.offer(message);
                true
            }));
            Group { members, task }
        });
        group
            .members
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, sender));
        Box::new(Member {
            topics: Arc::clone(&self.topics),
            key,
            id,
        })
    }
}

/// Forwards a topic's channel to `offer` until it returns `false` or the channel closes.
async fn forward(
    mut rx: broadcast::Receiver<Message>,
    mut offer: impl FnMut(Message) -> bool + Send + 'static,
) {
    loop {
        match rx.recv().await {
            Ok(message) => {
                if !offer(message) {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "broadcast subscriber fell behind; messages skipped");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Ends a broadcast subscription: its forwarding task stops and drops the delivery sender.
struct Forwarder(JoinHandle<()>);

impl Unsubscribe for Forwarder {
    fn unsubscribe(self: Box<Self>) -> BoxFuture<'static, Result<(), LocalError>> {
        self.0.abort();
        Box::pin(async move {
            let _ = self.0.await;
            Ok(())
        })
    }
}

/// Ends a queue group membership; the last member out stops the group's task.
struct Member {
    topics: Arc<Mutex<Topics>>,
    key: (String, String),
    id: u64,
}

impl Unsubscribe for Member {
    fn unsubscribe(self: Box<Self>) -> BoxFuture<'static, Result<(), LocalError>> {
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        let mut ended = None;
        if let Some(group) = topics.groups.get(&self.key) {
            let mut members = group.members.lock().unwrap_or_else(|e| e.into_inner());
            members.retain(|(id, _)| *id != self.id);
            if members.is_empty() {
                drop(members);
                ended = topics.groups.remove(&self.key).map(|group| group.task);
            }
        }
        drop(topics);
        if let Some(task) = &ended {
            task.abort();
        }
        Box::pin(async move {
            if let Some(task) = ended {
                let _ = task.await;
            }
            Ok(())
        })
    }
}
