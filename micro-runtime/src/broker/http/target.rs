//! One subscriber node's task: sends its queue in order, up to [`pipeline`] messages at a time on
//! one connection while the node is healthy, and decides, reply by reply, what happens to a
//! message. See the table in `outbox.rs`.
//!
//! [`pipeline`]: super::HttpBroker::pipeline
//!
//! Backoff carries over from one message to the next, so a node that stays down is not hammered
//! once per queued message; a success resets it. Ages count from `publish`, so once the head of a
//! dead node's queue expires, the messages queued behind it expire quickly too. A node missing
//! from the registry is not given up at once: a lookup may miss it for a moment, and a queue
//! group may be empty while its only member restarts, so a group's messages wait for a member
//! until they are too old, and a broadcast node's for [`MISSING_GRACE`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::Options;
use super::outbox::{Outbox, Pushed, Queued};
use super::peer::Peer;
use super::post::{Links, PostError};
use super::publish::{broadcast_node, group_members};

// A task with nothing to send for this long exits; the next message starts another.
const IDLE_EXIT: Duration = Duration::from_secs(30);
/// How long a broadcast node may be missing from the registry before its queue is dropped.
const MISSING_GRACE: Duration = Duration::from_secs(10);

/// Which queue: a subscriber node of a topic.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct NodeKey {
    topic: Arc<str>,
    id: String,
}

impl NodeKey {
    pub(super) fn new(topic: &Arc<str>, id: &str) -> Self {
        Self {
            topic: Arc::clone(topic),
            id: id.to_string(),
        }
    }
}

impl fmt::Display for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "subscriber {} of {}", self.id, self.topic)
    }
}

/// The task serving one node's queue.
pub(super) struct Worker {
    outbox: Arc<Outbox>,
    key: NodeKey,
    generation: u64,
    peer: Arc<Peer>,
    links: Links,
    backoff: Duration,
    options: Arc<Options>,
    // In a run of failed deliveries (warned about once, not per retry).
    failing: bool,
    // Since when a broadcast node has been missing from the registry.
    missing_since: Option<Instant>,
    // Messages given up: logged at the first and then every thousandth, so a dead or broken
    // subscriber cannot flood the log.
    given_up: u64,
}

/// What one reply means for its message.
enum Step {
    Done,
    Gone,
    /// Surely not delivered: try again (why).
    Retry(String),
}

/// How one message ended.
#[derive(PartialEq, Eq)]
enum Outcome {
    Done,
    // The broadcast subscriber is gone for good: this message and the queued ones are dropped.
    Gone,
}

impl Worker {
    pub(super) fn new(
        outbox: Arc<Outbox>,
        key: NodeKey,
        generation: u64,
        peer: Arc<Peer>,
        options: &Arc<Options>,
    ) -> Self {
        Self {
            outbox,
            key,
            generation,
            peer,
            links: Links::new(options.dial_timeout, options.reply_timeout),
            backoff: options.retry_first,
            options: Arc::clone(options),
            failing: false,
            missing_since: None,
            given_up: 0,
        }
    }

    /// Serves the queue until it is idle for a while or the outbox stops.
    pub(super) async fn run(mut self, mut rx: mpsc::Receiver<Queued>) {
        loop {
            let item = match tokio::time::timeout(IDLE_EXIT, rx.recv()).await {
                Ok(Some(item)) => item,
                Ok(None) => return,
                Err(_idle) if self.outbox.retire(&self.key, self.generation, &rx) => return,
                Err(_idle) => continue,
            };
            let mut window = vec![item];
            // A failing node is probed one message at a time, so a message that it refuses is
            // retried before anything behind it is sent.
            let size = match self.peer.succeeding() {
                true => self.options.pipeline,
                false => 1,
            };
            while window.len() < size
                && let Ok(item) = rx.try_recv()
            {
                window.push(item);
            }
            self.peer.busy(true);
            let outcome = match &window[..] {
                [item] => self.deliver(item, false).await,
                _ => self.deliver_window(&window).await,
            };
            self.peer.busy(false);
            window.iter().for_each(|_| self.peer.done());
            if outcome == Outcome::Gone {
                let mut dropped = window.len();
                while rx.try_recv().is_ok() {
                    self.peer.done();
                    dropped += 1;
                }
                tracing::debug!(to = %self.key, dropped, "HTTP broker: the subscriber is gone; its queued messages are dropped");
            }
        }
    }

    /// Sends a window of messages pipelined on one connection, then settles each in order. A
    /// message to retry is retried before the ones behind it are settled: those were not
    /// delivered either when the subscriber closed the connection after refusing it (our inbox
    /// does, after a 503), so they are retried after it, in order.
    async fn deliver_window(&mut self, window: &[Queued]) -> Outcome {
        let node = self.peer.node();
        let envelopes: Vec<&[u8]> = window.iter().map(|item| &item.envelope[..]).collect();
        let results = self
            .links
            .post_many(&node.address, &node.id, &envelopes)
            .await;
        let mut retried = false;
        let mut previous_taken = false;
        for (item, result) in window.iter().zip(results) {
            // Not sent behind a message the subscriber took and then closed the connection (a
            // keep-alive limit, a server going away): nothing failed, so it goes again at once,
            // without marking the subscriber as failing (which would make waiting publishers drop).
            if previous_taken && matches!(result, Err(PostError::NotSent(_))) {
                if self.deliver(item, true).await == Outcome::Gone {
                    return Outcome::Gone;
                }
                retried = true;
                continue;
            }
            previous_taken = matches!(result, Ok(200..=299));
            // The message before was retried and got through: the connection works again, so
            // this one, sent behind it on the one that closed, goes at once.
            let at_once = retried && self.peer.succeeding();
            let outcome = match self.settle(item, &node.address, result) {
                Step::Done => continue,
                Step::Gone => Outcome::Gone,
                Step::Retry(_) if at_once => self.deliver(item, true).await,
                Step::Retry(why) => match self.failed(item, why, item.at.elapsed()).await {
                    Some(outcome) => outcome,
                    None => self.deliver(item, true).await,
                },
            };
            retried = true;
            if outcome == Outcome::Gone {
                return outcome;
            }
        }
        Outcome::Done
    }

    /// Delivers one message: retries while it is surely undelivered and young enough, and hands a
    /// group's message to another member when this one refuses it. `tried`: it was sent once.
    async fn deliver(&mut self, item: &Queued, mut tried: bool) -> Outcome {
        loop {
            let age = item.at.elapsed();
            // Checked after the first attempt: even with a zero maximum age, one attempt is made.
            if tried && age >= self.options.max_message_age {
                self.give_up(item, format_args!("not delivered within {age:?}"));
                return Outcome::Done;
            }
            tried = true;
            if item.group.is_some()
                && self.peer.is_cooling(Instant::now())
                && self.hand_off(item).await
            {
                return Outcome::Done;
            }
            let node = self.peer.node();
            let result = self
                .links
                .post(&node.address, &node.id, &item.envelope)
                .await;
            match self.settle(item, &node.address, result) {
                Step::Done => return Outcome::Done,
                Step::Gone => return Outcome::Gone,
                Step::Retry(why) => {
                    if let Some(outcome) = self.failed(item, why, age).await {
                        return outcome;
                    }
                }
            }
        }
    }

    /// What one reply means for its message (the table in `outbox.rs`).
    fn settle(&mut self, item: &Queued, address: &str, result: Result<u16, PostError>) -> Step {
        // Any failure, retried or not, stops publishers waiting for room in this queue.
        self.peer.set_healthy(matches!(result, Ok(200..=299)));
        match result {
            Ok(200..=299) => {
                if std::mem::take(&mut self.failing) {
                    tracing::info!(to = %self.key, "HTTP broker: delivering again");
                }
                self.peer.cool(false);
                self.backoff = self.options.retry_first;
                Step::Done
            }
            Ok(404) if item.group.is_none() => {
                tracing::debug!(to = %self.key, id = %item.id, "HTTP broker: the subscription has ended (404)");
                Step::Gone
            }
            // Proven not taken: the subscription ended, or is busy.
            Ok(status @ (404 | 408 | 429 | 503)) => {
                Step::Retry(format!("{address} answered {status}"))
            }
            Ok(status) => {
                self.give_up(item, format_args!("{address} refused it with {status}"));
                Step::Done
            }
            Err(PostError::NotSent(why)) => Step::Retry(format!("{address}: {why}")),
            Err(err @ (PostError::Unknown(_) | PostError::BadAddress)) => {
                self.peer.cool(true);
                self.give_up(item, format_args!("{address}: {err}"));
                Step::Done
            }
        }
    }

    /// After a failure that proved `item` undelivered: moves a group's message to another member,
    /// notices a broadcast node that left, or else waits out the backoff (`None`: try again).
    async fn failed(&mut self, item: &Queued, why: String, age: Duration) -> Option<Outcome> {
        self.peer.cool(true);
        if item.group.is_some() {
            if self.hand_off(item).await {
                return Some(Outcome::Done);
            }
        } else if self.missing_for_good().await {
            return Some(Outcome::Gone);
        }
        if std::mem::replace(&mut self.failing, true) {
            tracing::debug!(to = %self.key, id = %item.id, error = %why, "HTTP broker: delivery failed again");
        } else {
            tracing::warn!(to = %self.key, id = %item.id, error = %why, "HTTP broker: delivery failed; retrying with backoff");
        }
        let left = self.options.max_message_age.saturating_sub(age);
        tokio::time::sleep(self.backoff.min(left)).await;
        self.backoff = (self.backoff * 2).min(self.options.retry_max);
        None
    }

    /// Gives a group's message to another member that is not cooling down and has room; false
    /// when there is none (the group may be empty for a moment: the caller retries).
    async fn hand_off(&mut self, item: &Queued) -> bool {
        let Some(group) = &item.group else {
            return false;
        };
        let Ok(services) = self.outbox.lookup().services().await else {
            return false;
        };
        let members = group_members(&services, &item.topic, group);
        if let Some(me) = members.iter().find(|m| m.id == self.key.id) {
            self.peer.set_node(me);
        }
        self.links
            .retain(|address| members.iter().any(|m| m.address == address));
        let leaving = Some(self.key.id.as_str());
        let pushed = self
            .outbox
            .to_group(&members, leaving, item.clone(), &self.options);
        let moved = !matches!(pushed, Pushed::Back);
        if moved {
            tracing::debug!(from = %self.key, id = %item.id, "HTTP broker: message moved to another queue group member");
        }
        moved
    }

    /// Re-reads a broadcast node from the registry; true once it has been missing for longer
    /// than [`MISSING_GRACE`].
    async fn missing_for_good(&mut self) -> bool {
        let Ok(services) = self.outbox.lookup().services().await else {
            return false;
        };
        match broadcast_node(&services, &self.key.topic, &self.key.id) {
            Some(node) => {
                self.peer.set_node(&node);
                self.missing_since = None;
                false
            }
            None => {
                self.missing_since
                    .get_or_insert_with(Instant::now)
                    .elapsed()
                    >= MISSING_GRACE
            }
        }
    }

    fn give_up(&mut self, item: &Queued, why: fmt::Arguments<'_>) {
        self.given_up += 1;
        if self.given_up == 1 || self.given_up.is_multiple_of(1000) {
            tracing::warn!(to = %self.key, id = %item.id, dropped = self.given_up, "HTTP broker: message dropped: {why}");
        }
    }
}
