//! The buffer in front of one subscription's handler, and the task that runs the handler: what
//! every broker, micro's or another crate's, builds its subscriptions from.
//!
//! Every broker hands received messages to a [`DeliverySender`], which never waits: a full
//! buffer drops the message for this subscription only, so one slow handler cannot hold up the
//! broker's other subscribers (NATS treats slow consumers the same way). The handler runs one
//! message at a time, in arrival order; its errors and panics are logged and counted, and the
//! subscription goes on.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::FutureExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Event, EventHandler, Message, SubscribeOptions, SubscriptionStats};

/// One subscription's buffer and handler task. A broker makes one per subscription with
/// [`Delivery::spawn`], puts received messages in through its [`DeliverySender`], and hands it
/// to [`Subscription::new`](super::Subscription::new).
pub struct Delivery {
    // `None` once the subscription is ending: the task stops when the broker's copies are gone.
    sender: Option<DeliverySender>,
    stats: Arc<SubscriptionStats>,
    topic: Arc<str>,
    task: JoinHandle<()>,
}

/// Where a broker puts a subscription's messages. Cheap to clone.
#[derive(Clone)]
pub struct DeliverySender {
    tx: mpsc::Sender<Message>,
    stats: Arc<SubscriptionStats>,
    topic: Arc<str>,
}

impl Delivery {
    /// Starts the handler task for a subscription to `topic` (inside a tokio runtime).
    pub fn spawn(topic: &str, handler: EventHandler, options: &SubscribeOptions) -> Self {
        let (tx, rx) = mpsc::channel(options.buffer.max(1));
        let stats = Arc::new(SubscriptionStats::default());
        let topic: Arc<str> = Arc::from(topic);
        let task = tokio::spawn(run(
            rx,
            handler,
            Arc::clone(&topic),
            options.auto_ack,
            Arc::clone(&stats),
        ));
        Self {
            sender: Some(DeliverySender {
                tx,
                stats: Arc::clone(&stats),
                topic: Arc::clone(&topic),
            }),
            stats,
            topic,
            task,
        }
    }

    /// A handle for the broker to put messages in.
    ///
    /// # Panics
    /// Once the subscription has ended, which a broker never sees: the subscription owns its
    /// `Delivery` from [`Subscription::new`](super::Subscription::new) on.
    pub fn sender(&self) -> DeliverySender {
        self.sender
            .clone()
            .expect("a subscription that has not ended")
    }

    /// The subscription's counters.
    pub fn stats(&self) -> Arc<SubscriptionStats> {
        Arc::clone(&self.stats)
    }

    /// Waits until every buffered message is handled. The broker must have dropped its senders
    /// (unsubscribed) first, or this waits for them.
    pub(crate) async fn finish(mut self) {
        self.wait().await;
    }

    /// [`finish`](Self::finish), by reference, so a caller can give up and [`abort`](Self::abort).
    pub(crate) async fn wait(&mut self) {
        self.sender = None;
        if let Err(err) = (&mut self.task).await
            && !err.is_cancelled()
        {
            tracing::error!(topic = %self.topic, error = %err, "a subscriber's handler task failed");
        }
    }

    /// Stops the handler task now, dropping what is still buffered (logged with how much).
    pub(crate) fn abort(self) {
        let stats = &self.stats;
        let done = stats.dropped() + stats.handled() + stats.failed();
        let left = stats.received().saturating_sub(done);
        if !self.task.is_finished() {
            tracing::warn!(topic = %self.topic, left, "subscriber stopped with messages unhandled");
        }
        self.task.abort();
    }
}

impl DeliverySender {
    /// Buffers `message` for the handler. Returns `false` when it was dropped: the buffer is full
    /// (counted and logged) or the subscription has ended.
    pub fn offer(&self, message: Message) -> bool {
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(message) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(message)) => {
                let dropped = self.stats.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                // The first drop and then every thousandth: a stuck handler must not flood the log.
                if dropped == 1 || dropped.is_multiple_of(1000) {
                    tracing::warn!(
                        topic = %self.topic,
                        id = message.id(),
                        dropped,
                        buffer = self.tx.max_capacity(),
                        "subscriber too slow: its buffer is full, message dropped"
                    );
                }
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// The subscription's counters.
    pub fn stats(&self) -> &SubscriptionStats {
        &self.stats
    }

    /// The subscription's topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Whether the buffer has room for another message now.
    pub fn has_room(&self) -> bool {
        self.tx.capacity() > 0
    }

    /// Whether the subscription has ended.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

async fn run(
    mut rx: mpsc::Receiver<Message>,
    handler: EventHandler,
    topic: Arc<str>,
    auto_ack: bool,
    stats: Arc<SubscriptionStats>,
) {
    while let Some(message) = rx.recv().await {
        let event = Arc::new(Event::new(Arc::clone(&topic), message));
        // The call itself inside the guarded future: a handler may panic before it returns one.
        let call = async { handler(Arc::clone(&event)).await };
        let outcome = AssertUnwindSafe(call).catch_unwind().await;
        let id = event.message().id();
        match outcome {
            Ok(Ok(())) => {
                if auto_ack {
                    event.ack();
                }
                stats.handled.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Err(err)) => {
                stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%topic, id, error = %err, "subscriber failed to handle a message");
            }
            Err(_) => {
                stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%topic, id, "subscriber panicked while handling a message");
            }
        }
    }
}
