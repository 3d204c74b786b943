//! The task between one NATS subscription and its micro [`Subscription`](crate::broker::Subscription),
//! and what ends it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_nats::connection::State;
use async_nats::{Client, Subscriber};
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::time::timeout;

use crate::broker::delivery::DeliverySender;
use crate::broker::{Unsubscribe, decode_envelope};
use crate::error::LocalError;
use crate::registry::BoxFuture;

/// How long unsubscribing waits for the UNSUB to be written to the server.
const UNSUBSCRIBE_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Stops a reader: send `true`, then wait for [`watch::Sender::closed`], which the reader's
/// end (it holds the only receiver) completes.
pub(super) type Stop = Arc<watch::Sender<bool>>;

/// The broker's live readers by id, so `disconnect` can stop them all.
pub(super) type Readers = Arc<Mutex<HashMap<u64, Stop>>>;

/// Starts the task that feeds `subscriber`'s messages to `sender`; returns what stops it.
pub(super) fn spawn_reader(subscriber: Subscriber, sender: DeliverySender) -> Stop {
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(read(subscriber, sender, stopped));
    Arc::new(stop)
}

async fn read(mut subscriber: Subscriber, sender: DeliverySender, mut stop: watch::Receiver<bool>) {
    let mut malformed = 0u64;
    loop {
        let message = tokio::select! {
            // Stop first: once asked to stop, nothing more goes to the handler.
            biased;
            _ = stop.changed() => break,
            message = subscriber.next() => match message {
                Some(message) => message,
                // The connection was drained or closed under a live subscription: say so, since
                // the handler hears nothing more.
                None => {
                    tracing::warn!(topic = %sender.topic(), "NATS subscription ended: the connection closed");
                    break;
                }
            },
        };
        match decode_envelope(&message.payload) {
            Ok(decoded) => {
                sender.offer(decoded);
            }
            Err(error) => {
                sender.stats().count_malformed();
                malformed += 1;
                // The first and then every thousandth: a stream of garbage must not flood the log.
                if malformed == 1 || malformed.is_multiple_of(1000) {
                    tracing::warn!(
                        subject = %message.subject,
                        %error,
                        malformed,
                        "NATS message is not a go-micro broker message; skipped"
                    );
                } else {
                    tracing::debug!(subject = %message.subject, %error, "malformed NATS message");
                }
            }
        }
    }
    // Dropping the subscriber sends the UNSUB without waiting, even while disconnected.
    drop(subscriber);
}

/// Stops a reader and waits until it has ended.
pub(super) async fn stop(stop: &Stop) {
    stop.send_replace(true);
    stop.closed().await;
}

/// Ends one NATS subscription (the broker's [`Unsubscribe`]).
pub(super) struct Unsubscriber {
    pub(super) id: u64,
    pub(super) stop: Stop,
    // Weak: a forgotten subscription must not keep a dropped broker's table alive.
    pub(super) readers: Weak<Mutex<HashMap<u64, Stop>>>,
    pub(super) client: Client,
}

impl Unsubscribe for Unsubscriber {
    fn unsubscribe(self: Box<Self>) -> BoxFuture<'static, Result<(), LocalError>> {
        Box::pin(async move {
            if let Some(readers) = self.readers.upgrade() {
                readers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&self.id);
            }
            stop(&self.stop).await;
            // Get the UNSUB to the server now, so a queue group stops picking this member;
            // pointless (and slow) while disconnected, when the server has forgotten us anyway.
            if self.client.connection_state() == State::Connected {
                let _ = timeout(UNSUBSCRIBE_FLUSH_TIMEOUT, self.client.flush()).await;
            }
            Ok(())
        })
    }
}
