//! One target's task: sends its queue in order and decides, reply by reply, what happens to a
//! message. See the table in `outbox.rs`.
//!
//! Backoff carries over from one message to the next, so a target that stays down is not hammered
//! once per queued message; a success resets it. Ages count from `publish`, so once the head of a
//! dead target's queue expires, the messages queued behind it expire quickly too.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use super::Options;
use super::outbox::{Outbox, Queued};
use super::post::Links;
use super::publish::{broadcast_node, group_members};
use crate::registry::Node;

// A target task with nothing to send for this long exits; the next message starts another.
const IDLE_EXIT: Duration = Duration::from_secs(30);

/// Who a queue delivers to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum TargetKey {
    /// A broadcast subscriber.
    Node { topic: String, id: String },
    /// A queue group: each message goes to one member.
    Group { topic: String, group: String },
}

impl fmt::Display for TargetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetKey::Node { topic, id } => write!(f, "subscriber {id} of {topic}"),
            TargetKey::Group { topic, group } => write!(f, "queue group {group} of {topic}"),
        }
    }
}

/// The task serving one target's queue.
pub(super) struct Worker {
    outbox: Arc<Outbox>,
    key: TargetKey,
    generation: u64,
    // A broadcast node as last looked up; `None` after a failure, to look it up again.
    node: Option<Node>,
    links: Links,
    backoff: Duration,
    options: Arc<Options>,
    pending: Arc<AtomicUsize>,
    // In a run of failed deliveries (warned about once, not per retry).
    failing: bool,
    // Messages given up for age, and refused by the subscriber: logged at the first and then
    // every thousandth, so a dead or broken subscriber cannot flood the log.
    expired: u64,
    refused: u64,
}

/// How one message ended.
#[derive(PartialEq, Eq)]
enum Outcome {
    Done,
    // The target left the registry: this message and the queued ones are dropped.
    Gone,
}

/// How one attempt ended.
enum Attempt {
    Delivered,
    Dropped,
    Gone,
    Retry(String),
}

/// What a reply status means for the message.
enum Answer {
    Delivered,
    Ended,
    Busy,
    Refused,
}

fn answer(status: u16) -> Answer {
    match status {
        200..=299 => Answer::Delivered,
        404 => Answer::Ended,
        408 | 429 | 500..=599 => Answer::Busy,
        _ => Answer::Refused,
    }
}

impl Worker {
    pub(super) fn new(
        outbox: Arc<Outbox>,
        key: TargetKey,
        generation: u64,
        node: Option<Node>,
        options: &Arc<Options>,
        pending: Arc<AtomicUsize>,
    ) -> Self {
        Self {
            outbox,
            key,
            generation,
            node,
            links: Links::new(options.delivery_timeout),
            backoff: options.retry_first,
            options: Arc::clone(options),
            pending,
            failing: false,
            expired: 0,
            refused: 0,
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
            let outcome = self.deliver(&item).await;
            self.pending.fetch_sub(1, Ordering::Relaxed);
            if outcome == Outcome::Gone {
                let mut dropped = 1;
                while rx.try_recv().is_ok() {
                    self.pending.fetch_sub(1, Ordering::Relaxed);
                    dropped += 1;
                }
                tracing::debug!(to = %self.key, dropped, "HTTP broker: subscriber left the registry; its queued messages are dropped");
            }
        }
    }

    /// Delivers one message, retrying until it is delivered, refused or too old.
    async fn deliver(&mut self, item: &Queued) -> Outcome {
        loop {
            let age = item.at.elapsed();
            if age >= self.options.max_message_age {
                self.expired += 1;
                if self.expired == 1 || self.expired.is_multiple_of(1000) {
                    tracing::warn!(to = %self.key, id = %item.id, ?age, dropped = self.expired, "HTTP broker: message not delivered in time; dropped");
                }
                return Outcome::Done;
            }
            let attempt = match &self.key {
                TargetKey::Node { .. } => self.send_to_node(item).await,
                TargetKey::Group { .. } => self.send_to_group(item).await,
            };
            let why = match attempt {
                Attempt::Delivered => {
                    if std::mem::take(&mut self.failing) {
                        tracing::info!(to = %self.key, "HTTP broker: delivering again");
                    }
                    self.backoff = self.options.retry_first;
                    return Outcome::Done;
                }
                Attempt::Dropped => return Outcome::Done,
                Attempt::Gone => return Outcome::Gone,
                Attempt::Retry(why) => why,
            };
            if std::mem::replace(&mut self.failing, true) {
                tracing::debug!(to = %self.key, id = %item.id, error = %why, "HTTP broker: delivery failed again");
            } else {
                tracing::warn!(to = %self.key, id = %item.id, error = %why, "HTTP broker: delivery failed; retrying with backoff");
            }
            let left = self.options.max_message_age.saturating_sub(age);
            tokio::time::sleep(self.backoff.min(left)).await;
            self.backoff = (self.backoff * 2).min(self.options.retry_max);
        }
    }

    async fn send_to_node(&mut self, item: &Queued) -> Attempt {
        let node = match &self.node {
            Some(node) => node.clone(),
            None => {
                let TargetKey::Node { topic, id } = &self.key else {
                    return Attempt::Dropped;
                };
                let services = match self.outbox.lookup().services().await {
                    Ok(services) => services,
                    Err(err) => return Attempt::Retry(format!("registry lookup failed: {err}")),
                };
                match broadcast_node(&services, topic, id) {
                    Some(node) => self.node.insert(node).clone(),
                    None => return Attempt::Gone,
                }
            }
        };
        match self
            .links
            .post(&node.address, &node.id, &item.envelope)
            .await
        {
            Ok(status) => match answer(status) {
                Answer::Delivered => Attempt::Delivered,
                Answer::Ended => {
                    tracing::debug!(to = %self.key, id = %item.id, "HTTP broker: the subscription has ended (404); message dropped");
                    Attempt::Dropped
                }
                Answer::Busy => {
                    self.node = None;
                    Attempt::Retry(format!("{} answered {status}", node.address))
                }
                Answer::Refused => self.refused(&node, item, status),
            },
            Err(err) => {
                self.node = None;
                Attempt::Retry(format!("{}: {err}", node.address))
            }
        }
    }

    async fn send_to_group(&mut self, item: &Queued) -> Attempt {
        let TargetKey::Group { topic, group } = &self.key else {
            return Attempt::Dropped;
        };
        let services = match self.outbox.lookup().services().await {
            Ok(services) => services,
            Err(err) => return Attempt::Retry(format!("registry lookup failed: {err}")),
        };
        let mut members = group_members(&services, topic, group);
        if members.is_empty() {
            return Attempt::Gone;
        }
        self.links
            .retain(|address| members.iter().any(|m| m.address == address));
        // Random, as go-micro picks; members that just failed go last.
        fastrand::shuffle(&mut members);
        self.outbox.cooldown().demote(&mut members, node_id);
        let mut last = String::new();
        for member in members {
            match self
                .links
                .post(&member.address, &member.id, &item.envelope)
                .await
            {
                Ok(status) => match answer(status) {
                    Answer::Delivered => return Attempt::Delivered,
                    Answer::Ended | Answer::Busy => {
                        last = format!("{} answered {status}", member.address);
                    }
                    Answer::Refused => return self.refused(member, item, status),
                },
                Err(err) => last = format!("{}: {err}", member.address),
            }
            self.outbox.cooldown().mark(&member.id);
        }
        Attempt::Retry(format!("no member took the message; last: {last}"))
    }

    /// A 4xx other than 404: the subscriber cannot take this message, so retrying is pointless.
    fn refused(&mut self, node: &Node, item: &Queued, status: u16) -> Attempt {
        self.refused += 1;
        if self.refused == 1 || self.refused.is_multiple_of(1000) {
            tracing::error!(to = %self.key, node = %node.id, address = %node.address, id = %item.id, status, dropped = self.refused, "HTTP broker: the subscriber refused the message; dropped");
        }
        Attempt::Dropped
    }
}

// A member's id, borrowed from the looked-up services rather than from the list being sorted.
fn node_id<'a>(node: &&'a Node) -> &'a str {
    &node.id
}
