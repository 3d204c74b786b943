//! The outbox: one bounded queue and one task per subscriber node, so that no subscriber waits
//! for another.
//!
//! A broadcast message is queued for every broadcast node. A queue group's message is queued for
//! one member, picked when it is published: at random among the members with room in their
//! queue, preferring healthy ones (see `peer.rs`), then those not cooling down after a failure,
//! then the one with the fewest messages waiting, then the one that has been on its current
//! messages for the shortest time. So a group of N members works on N messages at once, and a
//! member that is slow or stuck gets little new work. Each node's task (`target.rs`) sends its
//! queue in order; what a reply means:
//!
//! | reply | broadcast node | queue group member |
//! |---|---|---|
//! | 2xx | delivered | delivered |
//! | 404 (subscription ended) | dropped, with the rest of its queue | cool down; the message moves to another member |
//! | 503 (buffer full), 408, 429, not sent (see `post.rs`) | retried with backoff | cool down; the message moves to another member, or is retried with backoff if there is none |
//! | other statuses, or no answer to a message that was sent | dropped, logged | dropped, logged; cool down after no answer |
//!
//! Within a group, order is kept per member; a message that moves to another member may arrive
//! after messages published later. A full queue makes `publish` wait when its node is healthy
//! (`backpressure.rs`, and for a group only when every member's queue is full) and drops the
//! newest message otherwise. Idle tasks exit after a while, so subscribers that come and go leave
//! no tasks behind. Everything here is memory: it dies with the process, unless a flush
//! (`flush.rs`) waits for it first.

use std::collections::HashMap;
use std::collections::hash_map::Entry as Slot;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::backpressure::{Wait, dropped_full};
use super::flush::{Rounds, Ticket};
use super::peer::Peer;
use super::publish::Lookup;
use super::target::{NodeKey, Worker};
use super::{Options, lock};
use crate::registry::{Node, Registry};

/// A message waiting for one subscriber. Clones share the encoded envelope.
#[derive(Clone, Debug)]
pub(super) struct Queued {
    pub(super) topic: Arc<str>,
    /// The `Micro-Id`, for logs.
    pub(super) id: Arc<str>,
    pub(super) envelope: Bytes,
    /// When it was published: its age decides when retrying stops.
    pub(super) at: Instant,
    /// The queue group it is for; `None` for a broadcast subscriber. A group's message may move
    /// to another member.
    pub(super) group: Option<Arc<str>>,
    /// Its publish round's ticket, held until the copy is settled (see `flush.rs`).
    _ticket: Arc<Ticket>,
}

impl Queued {
    pub(super) fn new(topic: &str, id: &str, envelope: Bytes, ticket: Arc<Ticket>) -> Self {
        Self {
            topic: Arc::from(topic),
            id: Arc::from(id),
            envelope,
            at: Instant::now(),
            group: None,
            _ticket: ticket,
        }
    }

    /// The same message, for one member of queue group `group`.
    pub(super) fn for_group(&self, group: &str) -> Self {
        Self {
            group: Some(Arc::from(group)),
            ..self.clone()
        }
    }
}

// How loaded a member is: queue full, unhealthy, cooling down, messages waiting, stuck on its
// current ones for. Lower is better: room first, so a full member is passed over for any other.
type Load = (bool, bool, bool, usize, Duration);

/// What a full queue means for the message being queued.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Full {
    /// Give it back: the caller tries elsewhere.
    GiveBack,
    /// Wait for room if the node is healthy, else drop it.
    WaitOrDrop,
}

/// How queueing went.
pub(super) enum Pushed {
    Queued,
    /// The queue was full and its node failing or overrun: dropped, with a warning.
    Dropped,
    /// Not queued: no member qualified, or its queue was full (`Full::GiveBack`).
    Back,
    /// The queue of a healthy node was full: the publisher waits for room.
    Wait(Wait),
}

/// The queues of one broker, by subscriber node.
pub(super) struct Outbox {
    lookup: Lookup,
    rounds: Rounds,
    queues: Mutex<HashMap<NodeKey, Queue>>,
    generations: AtomicU64,
}

struct Queue {
    tx: mpsc::Sender<Queued>,
    // Tells this queue from a later one for the same node.
    generation: u64,
    peer: Arc<Peer>,
    task: AbortHandle,
}

impl Outbox {
    pub(super) fn new(registry: Arc<dyn Registry>) -> Self {
        Self {
            lookup: Lookup::new(registry),
            rounds: Rounds::default(),
            queues: Mutex::default(),
            generations: AtomicU64::new(0),
        }
    }

    pub(super) fn lookup(&self) -> &Lookup {
        &self.lookup
    }

    /// The publish rounds, which a flush waits for.
    pub(super) fn rounds(&self) -> &Rounds {
        &self.rounds
    }

    /// Queues `item` for the broadcast node `node` (as just looked up). A full queue gives a
    /// [`Wait`] if the node is healthy, and drops the item, with a warning, if not.
    pub(super) fn to_node(
        self: &Arc<Self>,
        node: &Node,
        item: Queued,
        options: &Arc<Options>,
    ) -> Pushed {
        let mut queues = lock(&self.queues);
        self.push(&mut queues, node, item, options, Full::WaitOrDrop)
    }

    /// Queues `item` for one of `members` of its queue group, picked as the module doc says.
    ///
    /// With `leaving` (a member handing the message on), that member is not picked, nor is any
    /// member cooling down or with a full queue, and [`Pushed::Back`] says so when
    /// no member qualifies. Otherwise the best member takes it; if even its queue is full, every
    /// member's is, and that member is waited for as [`to_node`](Self::to_node) says.
    pub(super) fn to_group(
        self: &Arc<Self>,
        members: &[&Node],
        leaving: Option<&str>,
        item: Queued,
        options: &Arc<Options>,
    ) -> Pushed {
        let mut queues = lock(&self.queues);
        let now = Instant::now();
        let load = |node: &Node| match queues.get(&NodeKey::new(&item.topic, &node.id)) {
            None => (false, false, false, 0, Duration::ZERO),
            Some(queue) => (
                queue.tx.capacity() == 0,
                !queue.peer.is_healthy(),
                queue.peer.is_cooling(now),
                queue.peer.pending(),
                queue.peer.stalled(now),
            ),
        };
        let mut candidates: Vec<(&Node, Load)> = members
            .iter()
            .filter(|node| Some(node.id.as_str()) != leaving)
            .map(|node| (*node, load(node)))
            .filter(|(_, (full, _, cooling, ..))| leaving.is_none() || !(*cooling || *full))
            .collect();
        // Shuffled first, so that equally loaded members are picked at random, as go-micro picks.
        fastrand::shuffle(&mut candidates);
        let Some((node, _)) = candidates.into_iter().min_by_key(|(_, load)| *load) else {
            return Pushed::Back;
        };
        let full = match leaving {
            Some(_) => Full::GiveBack,
            None => Full::WaitOrDrop,
        };
        self.push(&mut queues, node, item, options, full)
    }

    // Queues `item` for `node`, starting its task if needed and taking the node's address from
    // this lookup: a Go broker that reconnects keeps its node id but gets a new port.
    fn push(
        self: &Arc<Self>,
        queues: &mut HashMap<NodeKey, Queue>,
        node: &Node,
        item: Queued,
        options: &Arc<Options>,
        full: Full,
    ) -> Pushed {
        let key = NodeKey::new(&item.topic, &node.id);
        let queue = match queues.entry(key) {
            Slot::Occupied(slot) if !slot.get().tx.is_closed() => slot.into_mut(),
            Slot::Occupied(mut slot) => {
                // Its task is gone (it panicked): start another.
                slot.insert(self.spawn(slot.key().clone(), node, options));
                slot.into_mut()
            }
            Slot::Vacant(slot) => {
                let queue = self.spawn(slot.key().clone(), node, options);
                slot.insert(queue)
            }
        };
        queue.peer.set_node(node);
        queue.peer.add_pending();
        let Err(err) = queue.tx.try_send(item) else {
            queue.peer.set_overrun(false);
            return Pushed::Queued;
        };
        queue.peer.done();
        let item = err.into_inner();
        match full {
            Full::GiveBack => Pushed::Back,
            Full::WaitOrDrop if queue.peer.is_healthy() => Pushed::Wait(Wait {
                tx: queue.tx.clone(),
                peer: Arc::clone(&queue.peer),
                item,
                node: node.id.clone(),
            }),
            Full::WaitOrDrop => {
                let backlog = queue.tx.max_capacity();
                let why = "the subscriber is failing or overrun";
                dropped_full(&queue.peer, &item, &node.id, backlog, why);
                Pushed::Dropped
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
                queue.peer.pending()
            })
            .sum()
    }

    fn spawn(self: &Arc<Self>, key: NodeKey, node: &Node, options: &Arc<Options>) -> Queue {
        let (tx, rx) = mpsc::channel(options.backlog.max(1));
        let generation = self.generations.fetch_add(1, Ordering::Relaxed);
        let peer = Arc::new(Peer::new(node.clone()));
        let worker = Worker::new(
            Arc::clone(self),
            key,
            generation,
            Arc::clone(&peer),
            options,
        );
        let task = tokio::spawn(worker.run(rx));
        Queue {
            tx,
            generation,
            peer,
            task: task.abort_handle(),
        }
    }

    /// Takes an idle queue out of the map; false if a message arrived meanwhile.
    pub(super) fn retire(
        &self,
        key: &NodeKey,
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
