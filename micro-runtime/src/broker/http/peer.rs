//! What the outbox, `publish` and a node's task share about one subscriber node: where it is, how
//! much waits for it, and how it has been doing.
//!
//! Two verdicts come from here. *Cooling* (a failure in the last few seconds) steers a queue
//! group's new messages to other members. *Healthy* (the last delivery succeeded and nothing is
//! being retried, or nothing has been tried yet) decides what `publish` does when the node's
//! queue is full: wait for room from a healthy node, which is only busy, and drop at once for any
//! other, so that a dead or refusing subscriber never holds up the publisher. A node whose queue
//! stayed full for a whole wait is *overrun*, and counts as unhealthy until a publish finds room
//! in its queue again: a subscriber that answers, but slower than the publisher publishes, costs
//! one wait, not one per message.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::lock;
use crate::registry::Node;
use crate::selector::DEFAULT_COOLDOWN;

/// One subscriber node's shared state.
pub(super) struct Peer {
    node: Mutex<Node>,
    // Queued plus in flight: what is lost if the broker stops now.
    pending: AtomicUsize,
    state: Mutex<State>,
    // A watch, so that a publisher waiting for room hears at once when the node starts failing.
    healthy: watch::Sender<bool>,
    overrun: AtomicBool,
    // Messages dropped for a full queue, for the log.
    overflowed: AtomicU64,
}

#[derive(Default)]
struct State {
    cooling_until: Option<Instant>,
    busy_since: Option<Instant>,
}

impl Peer {
    pub(super) fn new(node: Node) -> Self {
        Self {
            node: Mutex::new(node),
            pending: AtomicUsize::new(0),
            state: Mutex::default(),
            // Untried counts as healthy: a burst published before the first reply must not be
            // dropped, and a dead node proves itself unhealthy within one dial.
            healthy: watch::Sender::new(true),
            overrun: AtomicBool::new(false),
            overflowed: AtomicU64::new(0),
        }
    }

    /// The node as last looked up.
    pub(super) fn node(&self) -> Node {
        lock(&self.node).clone()
    }

    /// Takes the node's address from a newer lookup.
    pub(super) fn set_node(&self, node: &Node) {
        let mut current = lock(&self.node);
        if current.address != node.address {
            *current = node.clone();
        }
    }

    pub(super) fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    pub(super) fn add_pending(&self) {
        self.pending.fetch_add(1, Ordering::Relaxed);
    }

    /// One message fewer waiting.
    pub(super) fn done(&self) {
        self.pending.fetch_sub(1, Ordering::Relaxed);
    }

    pub(super) fn is_cooling(&self, now: Instant) -> bool {
        lock(&self.state)
            .cooling_until
            .is_some_and(|until| until > now)
    }

    /// How long the node has been on its current messages: of two members with as many messages
    /// waiting, the one stuck longer is the worse pick.
    pub(super) fn stalled(&self, now: Instant) -> Duration {
        lock(&self.state)
            .busy_since
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }

    pub(super) fn cool(&self, cooling: bool) {
        lock(&self.state).cooling_until = cooling.then(|| Instant::now() + DEFAULT_COOLDOWN);
    }

    pub(super) fn busy(&self, busy: bool) {
        lock(&self.state).busy_since = busy.then(Instant::now);
    }

    /// Whether a publisher should wait for room in this node's full queue.
    pub(super) fn is_healthy(&self) -> bool {
        *self.healthy.borrow() && !self.overrun.load(Ordering::Relaxed)
    }

    /// Whether the last delivery succeeded (or none was tried yet), overrun or not.
    pub(super) fn succeeding(&self) -> bool {
        *self.healthy.borrow()
    }

    /// Records how the last delivery went: `false` for any failure, retried or not.
    pub(super) fn set_healthy(&self, healthy: bool) {
        self.healthy.send_if_modified(|now| {
            let changed = *now != healthy;
            *now = healthy;
            changed
        });
    }

    /// Completes once the node is failing (at once if it already is).
    pub(super) async fn failing(&self) {
        let mut healthy = self.healthy.subscribe();
        // The sender lives as long as `self`, so this cannot fail while we hold it.
        let _ = healthy.wait_for(|healthy| !healthy).await;
    }

    /// A publisher waited a whole timeout for room (`true`), or found room (`false`).
    pub(super) fn set_overrun(&self, overrun: bool) {
        // Read first: this runs on every publish, and a write would bounce the cache line.
        if self.overrun.load(Ordering::Relaxed) != overrun {
            self.overrun.store(overrun, Ordering::Relaxed);
        }
    }

    /// Counts a message dropped for a full queue; returns how many so far.
    pub(super) fn overflow(&self) -> u64 {
        self.overflowed.fetch_add(1, Ordering::Relaxed) + 1
    }
}
