//! Waiting for room: what `publish` does when a healthy node's queue is full.
//!
//! A healthy node with a full queue is busy, not broken: its task frees a slot with every reply.
//! Dropping the message there, as a full queue used to, loses most of what a flat-out publisher
//! sends, so `publish` waits for the slot instead. The wait ends early, and the message is
//! dropped, when the node starts failing (then the publisher must not be held up by it), or when
//! no slot frees within the reply timeout: a healthy node answers its oldest message within it,
//! so a queue that stays full that long belongs to a subscriber that cannot keep up; it is then
//! *overrun* (see `peer.rs`) and later publishes drop at once until there is room again.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::outbox::Queued;
use super::peer::Peer;

/// A message for a healthy node whose queue was full when it was published.
pub(super) struct Wait {
    pub(super) tx: mpsc::Sender<Queued>,
    pub(super) peer: Arc<Peer>,
    pub(super) item: Queued,
    pub(super) node: String,
}

impl Wait {
    /// Queues the message once there is room, or drops it as the module doc says.
    pub(super) async fn run(self, timeout: Duration) {
        let Wait {
            tx,
            peer,
            item,
            node,
        } = self;
        let why = tokio::select! {
            // Senders waiting for room are served in turn, so messages keep their publish order.
            room = tokio::time::timeout(timeout, tx.reserve()) => match room {
                Ok(Ok(permit)) => {
                    peer.add_pending();
                    permit.send(item);
                    return;
                }
                // The outbox stopped: it counts and logs what it dropped.
                Ok(Err(_closed)) => return,
                Err(_elapsed) => {
                    peer.set_overrun(true);
                    "the subscriber did not keep up"
                }
            },
            () = peer.failing() => "the subscriber is failing",
        };
        dropped_full(&peer, &item, &node, tx.max_capacity(), why);
    }
}

/// Logs a message dropped because `node`'s queue is full: the first and then every thousandth.
pub(super) fn dropped_full(peer: &Peer, item: &Queued, node: &str, backlog: usize, why: &str) {
    let dropped = peer.overflow();
    if dropped == 1 || dropped.is_multiple_of(1000) {
        tracing::warn!(
            topic = %item.topic,
            id = %item.id,
            %node,
            dropped,
            backlog,
            "HTTP broker: backlog full and {why}; message dropped"
        );
    }
}
