//! The outbox: one bounded queue and one task per target, so that no subscriber waits for another.
//!
//! A target is a broadcast node (by id) or a queue group (by topic and group). Its task
//! (`target.rs`) sends the queued messages one at a time, in order, over kept-alive connections.
//! A failed delivery stays at the head of its queue and is retried with backoff while the target
//! is registered and the message is younger than the maximum age; a queue group first tries its
//! other members, skipping those that just failed (the selector's cool-down). What a reply means:
//!
//! | reply | broadcast node | queue group member |
//! |---|---|---|
//! | 2xx | delivered | delivered |
//! | 404 (subscription ended) | dropped | cool down, next member |
//! | 408, 429, 5xx (503: buffer full), no answer | retried | cool down, next member; retried once all failed |
//! | other 4xx (message refused) | dropped, logged | dropped, logged |
//!
//! A full queue drops the newest message. Idle tasks exit after a while, so subscribers that come
//! and go leave no tasks behind. Everything here is memory: it dies with the process.

use std::collections::HashMap;
use std::collections::hash_map::Entry as Slot;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::publish::Lookup;
use super::target::{TargetKey, Worker};
use super::{Options, lock};
use crate::registry::{Node, Registry};
use crate::selector::{Cooldown, DEFAULT_COOLDOWN};

/// A message waiting for one target. Clones share the encoded envelope.
#[derive(Clone, Debug)]
pub(super) struct Queued {
    pub(super) topic: Arc<str>,
    /// The `Micro-Id`, for logs.
    pub(super) id: Arc<str>,
    pub(super) envelope: Bytes,
    /// When it was published: its age decides when retrying stops.
    pub(super) at: Instant,
}

impl Queued {
    pub(super) fn new(topic: &str, id: &str, envelope: Bytes) -> Self {
        Self {
            topic: Arc::from(topic),
            id: Arc::from(id),
            envelope,
            at: Instant::now(),
        }
    }
}

/// The queues of one broker, by target.
pub(super) struct Outbox {
    lookup: Lookup,
    cooldown: Cooldown,
    queues: Mutex<HashMap<TargetKey, Queue>>,
    generations: AtomicU64,
}

struct Queue {
    tx: mpsc::Sender<Queued>,
    // Tells this queue from a later one for the same target.
    generation: u64,
    // Queued plus in flight: what is lost if the broker stops now.
    pending: Arc<AtomicUsize>,
    overflowed: u64,
    task: AbortHandle,
}

impl Outbox {
    pub(super) fn new(registry: Arc<dyn Registry>) -> Self {
        Self {
            lookup: Lookup::new(registry),
            cooldown: Cooldown::new(DEFAULT_COOLDOWN),
            queues: Mutex::default(),
            generations: AtomicU64::new(0),
        }
    }

    pub(super) fn lookup(&self) -> &Lookup {
        &self.lookup
    }

    /// Queue group members that just failed, tried last for a while.
    pub(super) fn cooldown(&self) -> &Cooldown {
        &self.cooldown
    }

    /// Queues `item` for `key`, starting its task if needed (`node`: a broadcast node as just
    /// looked up). Never waits: a full queue drops the item, with a warning.
    pub(super) fn enqueue(
        self: &Arc<Self>,
        key: TargetKey,
        node: Option<Node>,
        item: Queued,
        options: &Arc<Options>,
    ) {
        // Sends happen under the lock, so a task that retires (under the lock) misses none.
        let mut queues = lock(&self.queues);
        let queue = match queues.entry(key) {
            Slot::Occupied(slot) if !slot.get().tx.is_closed() => slot.into_mut(),
            Slot::Occupied(mut slot) => {
                // Its task is gone (it panicked): start another.
                let queue = self.spawn(slot.key().clone(), node, options);
                slot.insert(queue);
                slot.into_mut()
            }
            Slot::Vacant(slot) => {
                let queue = self.spawn(slot.key().clone(), node, options);
                slot.insert(queue)
            }
        };
        queue.pending.fetch_add(1, Ordering::Relaxed);
        if let Err(err) = queue.tx.try_send(item) {
            queue.pending.fetch_sub(1, Ordering::Relaxed);
            queue.overflowed += 1;
            // The first drop and then every thousandth: a dead target must not flood the log.
            if queue.overflowed == 1 || queue.overflowed.is_multiple_of(1000) {
                let item = err.into_inner();
                tracing::warn!(
                    topic = %item.topic,
                    id = %item.id,
                    dropped = queue.overflowed,
                    backlog = queue.tx.max_capacity(),
                    "HTTP broker: backlog full for a slow or unreachable subscriber; message dropped"
                );
            }
        }
    }

    /// Stops every task; returns how many messages were queued or in flight.
    pub(super) fn stop(&self) -> usize {
        let queues = std::mem::take(&mut *lock(&self.queues));
        queues
            .into_values()
            .map(|queue| {
                queue.task.abort();
                queue.pending.load(Ordering::Relaxed)
            })
            .sum()
    }

    fn spawn(
        self: &Arc<Self>,
        key: TargetKey,
        node: Option<Node>,
        options: &Arc<Options>,
    ) -> Queue {
        let (tx, rx) = mpsc::channel(options.backlog.max(1));
        let generation = self.generations.fetch_add(1, Ordering::Relaxed);
        let pending = Arc::new(AtomicUsize::new(0));
        let worker = Worker::new(
            Arc::clone(self),
            key,
            generation,
            node,
            options,
            Arc::clone(&pending),
        );
        let task = tokio::spawn(worker.run(rx));
        Queue {
            tx,
            generation,
            pending,
            overflowed: 0,
            task: task.abort_handle(),
        }
    }

    /// Takes an idle queue out of the map; false if a message arrived meanwhile.
    pub(super) fn retire(
        &self,
        key: &TargetKey,
        generation: u64,
        rx: &mpsc::Receiver<Queued>,
    ) -> bool {
        let mut queues = lock(&self.queues);
        if !rx.is_empty() {
            return false;
        }
        if queues.get(key).is_some_and(|q| q.generation == generation) {
            queues.remove(key);
        }
        true
    }
}
