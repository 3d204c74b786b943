//! Pub/sub: the [`Broker`] trait, go-micro's [`Message`], and the brokers.
//!
//! A broker carries [`Message`]s (headers and a body) from publishers to the subscribers of a
//! topic, who never learn of each other. Every subscriber of a topic gets every message
//! (*broadcast*), except subscribers that share a *queue group*: each message goes to one member of
//! each group, so a group of workers shares the load.
//!
//! | broker | where | delivery |
//! |---|---|---|
//! | [`MemoryBroker`] | one process | in-process fan-out, queue groups honoured |
//! | [`http::HttpBroker`] (default, as go-micro's) | processes sharing a registry | each process serves an inbox; publishers find subscribers in the registry and POST to them |
//! | `nats::NatsBroker` (feature `nats`) | a NATS server or cluster | NATS subjects and queue subscriptions |
//!
//! All three are **at-most-once**: a message is delivered once or, when a subscriber is gone,
//! unreachable or too slow, not at all. Nothing is written to disk. The HTTP broker retries a
//! failed delivery from a bounded in-memory backlog, which covers a subscriber restarting, not a
//! publisher crashing.
//!
//! Each subscription has a bounded buffer ([`SubscribeOptions::buffer`]) in front of its handler,
//! which runs one message at a time, in order. A slow handler fills only its own buffer; once it
//! is full, messages for that subscription are dropped (counted in [`SubscriptionStats`] and
//! logged) and every other subscriber goes on at full speed.
//!
//! [`Broker::flush`] waits until what was published has left the process: every message handed
//! to its subscriber's inbox (HTTP) or to the NATS server, or given up. [`Broker::disconnect`]
//! flushes first, for [`DEFAULT_FLUSH_TIMEOUT`], so a process that publishes and then disconnects
//! (or stops the service that owns its broker) loses nothing to its exit.
//!
//! [`broker_from_env`] picks the broker `MICRO_BROKER` names.

mod config;
mod delivery;
mod envelope;
pub mod http;
mod memory;
#[cfg(feature = "nats")]
pub mod nats;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;

pub use config::{broker_from_env, shared_memory_broker};
pub use delivery::{Delivery, DeliverySender};
pub use envelope::{MAX_HEADER_BYTES, MAX_HEADERS, decode_envelope, encode_envelope};
pub use memory::MemoryBroker;

use crate::error::{Error, LocalError, LocalErrorKind};
use crate::registry::BoxFuture;

/// The header naming a message's topic (set by publishers, go-micro's `Micro-Topic`).
pub const TOPIC_HEADER: &str = "Micro-Topic";
/// The header carrying a message's unique id (go-micro's `Micro-Id`, a UUID).
pub const ID_HEADER: &str = "Micro-Id";
/// The header naming the body's encoding.
pub const CONTENT_TYPE_HEADER: &str = "Content-Type";
/// How many messages a subscription buffers in front of its handler by default.
pub const DEFAULT_BUFFER: usize = 1024;
/// How long [`Broker::disconnect`] waits, by default, for messages still on their way (see
/// [`Broker::flush`]) before it drops them.
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// One message: headers and an encoded body (go-micro's `broker.Message`).
///
/// Headers are kept sorted, so a message encodes to the same JSON bytes as Go's map does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// The headers: `Content-Type`, `Micro-Topic`, `Micro-Id` and the publisher's metadata.
    pub header: BTreeMap<String, String>,
    /// The encoded payload.
    pub body: Bytes,
}

impl Message {
    /// A message with `body` and no headers.
    pub fn new(body: impl Into<Bytes>) -> Self {
        Self {
            header: BTreeMap::new(),
            body: body.into(),
        }
    }

    /// A JSON message for `topic` with go-micro's headers: `Content-Type: application/json`,
    /// `Micro-Topic` and a fresh `Micro-Id` (a UUID), as a typed [`Publisher`](crate::Publisher)
    /// sends them, so typed subscribers decode it. For tools that publish JSON text (the `micro`
    /// command line, the dashboard).
    pub fn json(topic: &str, body: impl Into<Bytes>) -> Self {
        Self::new(body)
            .with_header(CONTENT_TYPE_HEADER, "application/json")
            .with_header(TOPIC_HEADER, topic)
            .with_header(ID_HEADER, uuid::Uuid::new_v4().to_string())
    }

    /// Adds a header.
    pub fn with_header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.header.insert(key.into(), value.into());
        self
    }

    /// A header's value; the name is compared without regard to ASCII case, since Go peers
    /// canonicalise names and others may not.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.header.get(key).map(String::as_str).or_else(|| {
            self.header
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str())
        })
    }

    /// The `Micro-Id` header, or `""`.
    pub fn id(&self) -> &str {
        self.get(ID_HEADER).unwrap_or("")
    }
}

/// A message as a subscriber receives it (go-micro's `broker.Event`).
#[derive(Debug)]
pub struct Event {
    topic: Arc<str>,
    message: Message,
    acked: AtomicBool,
}

impl Event {
    /// An event for `topic` (brokers build these).
    pub fn new(topic: Arc<str>, message: Message) -> Self {
        Self {
            topic,
            message,
            acked: AtomicBool::new(false),
        }
    }

    /// The topic the subscription is on.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The message.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// Acknowledges the message. With auto-ack (the default) the subscription does this when the
    /// handler returns `Ok`. The memory, HTTP and NATS brokers are at-most-once and never
    /// redeliver, so for them an ack only records that the handler finished the message.
    pub fn ack(&self) {
        self.acked.store(true, Ordering::Relaxed);
    }

    /// Whether the message was acknowledged.
    pub fn is_acked(&self) -> bool {
        self.acked.load(Ordering::Relaxed)
    }
}

/// What a subscription runs for each message. An `Err` is logged with the topic and message id;
/// the subscription goes on.
pub type EventHandler =
    Arc<dyn Fn(Arc<Event>) -> BoxFuture<'static, Result<(), Error>> + Send + Sync>;

/// Makes an [`EventHandler`] from an async closure.
///
/// ```
/// use micro_runtime::broker::{Event, event_handler};
/// let handler = event_handler(|event| async move {
///     println!("{} bytes on {}", event.message().body.len(), event.topic());
///     Ok(())
/// });
/// ```
pub fn event_handler<F, Fut>(f: F) -> EventHandler
where
    F: Fn(Arc<Event>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    Arc::new(move |event| Box::pin(f(event)))
}

/// How to subscribe.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SubscribeOptions {
    /// The queue group: each message goes to one member of the group instead of to all
    /// subscribers (go-micro's `broker.Queue`). `None`: broadcast.
    pub queue: Option<String>,
    /// Acknowledge each message once its handler returns `Ok` (default `true`); set `false` to
    /// acknowledge in the handler with [`Event::ack`] (go-micro's `DisableAutoAck`).
    pub auto_ack: bool,
    /// Messages buffered in front of the handler; beyond this, messages for this subscription
    /// are dropped and counted (default [`DEFAULT_BUFFER`]).
    pub buffer: usize,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        Self {
            queue: None,
            auto_ack: true,
            buffer: DEFAULT_BUFFER,
        }
    }
}

impl SubscribeOptions {
    /// Broadcast, auto-ack, the default buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Joins the queue group `name`.
    pub fn queue(mut self, name: impl Into<String>) -> Self {
        self.queue = Some(name.into());
        self
    }

    /// Sets whether messages are acknowledged automatically.
    pub fn auto_ack(mut self, auto_ack: bool) -> Self {
        self.auto_ack = auto_ack;
        self
    }

    /// Sets the buffer size (at least 1).
    pub fn buffer(mut self, messages: usize) -> Self {
        self.buffer = messages.max(1);
        self
    }
}

/// Counters of one subscription, for monitoring and tests.
#[derive(Debug, Default)]
pub struct SubscriptionStats {
    received: AtomicU64,
    handled: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    malformed: AtomicU64,
}

impl SubscriptionStats {
    /// Messages that reached the subscription (buffered or dropped).
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
    /// Messages whose handler returned `Ok`.
    pub fn handled(&self) -> u64 {
        self.handled.load(Ordering::Relaxed)
    }
    /// Messages whose handler returned an error.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
    /// Messages dropped because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
    /// Messages that could not be read at all (a body that is not go-micro's JSON envelope).
    pub fn malformed(&self) -> u64 {
        self.malformed.load(Ordering::Relaxed)
    }

    /// Counts a message that could not be read (a broker that got bytes it cannot decode).
    pub fn count_malformed(&self) {
        self.malformed.fetch_add(1, Ordering::Relaxed);
    }
}

/// Ends a subscription; each broker has its own, handed to [`Subscription::new`].
pub trait Unsubscribe: Send + Sync + 'static {
    /// Stops delivery: once this completes no new message reaches the handler, and the broker
    /// holds none of the subscription's `DeliverySender`s, even when it returns an error (a remote
    /// unsubscribe that failed).
    fn unsubscribe(self: Box<Self>) -> BoxFuture<'static, Result<(), LocalError>>;
}

/// A live subscription. [`unsubscribe`](Self::unsubscribe) ends it; dropping it ends it too, in
/// the background.
pub struct Subscription {
    topic: String,
    options: SubscribeOptions,
    stats: Arc<SubscriptionStats>,
    closer: Option<Box<dyn Unsubscribe>>,
    delivery: Option<Delivery>,
    // Where a dropped subscription unsubscribes, even if it is dropped outside the runtime.
    runtime: Option<tokio::runtime::Handle>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("topic", &self.topic)
            .field("queue", &self.options.queue)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// A subscription whose messages `delivery` runs and `closer` ends (brokers build these).
    pub fn new(
        topic: &str,
        options: SubscribeOptions,
        delivery: Delivery,
        closer: Box<dyn Unsubscribe>,
    ) -> Self {
        Self {
            topic: topic.to_string(),
            options,
            stats: delivery.stats(),
            closer: Some(closer),
            delivery: Some(delivery),
            runtime: tokio::runtime::Handle::try_current().ok(),
        }
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The queue group, if any.
    pub fn queue(&self) -> Option<&str> {
        self.options.queue.as_deref()
    }

    /// The subscription's counters.
    pub fn stats(&self) -> &Arc<SubscriptionStats> {
        &self.stats
    }

    /// Ends the subscription: no new message reaches the handler once the broker has let go of
    /// it; messages already buffered are handled, and this returns when they are done.
    pub async fn unsubscribe(mut self) -> Result<(), LocalError> {
        let closed = match self.closer.take() {
            Some(closer) => closer.unsubscribe().await,
            None => Ok(()),
        };
        if let Some(delivery) = self.delivery.take() {
            delivery.finish().await;
        }
        closed
    }

    /// [`unsubscribe`](Self::unsubscribe), but gives buffered messages at most `timeout`; what is
    /// left then is dropped (and logged), and the handler is stopped mid-message.
    pub async fn unsubscribe_within(mut self, timeout: Duration) -> Result<(), LocalError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let closed = match self.closer.take() {
            Some(closer) => tokio::time::timeout_at(deadline, closer.unsubscribe())
                .await
                .unwrap_or_else(|_| {
                    Err(broker_error(format!(
                        "unsubscribing from {} timed out",
                        self.topic
                    )))
                }),
            None => Ok(()),
        };
        if let Some(mut delivery) = self.delivery.take() {
            let finished = tokio::time::timeout_at(deadline, delivery.wait()).await;
            if finished.is_err() {
                delivery.abort();
            }
        }
        closed
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(closer) = self.closer.take()
            && let Some(runtime) = self.runtime.take()
        {
            let topic = self.topic.clone();
            // Called here, not in the task: a closer's synchronous part takes effect at once.
            let unsubscribing = closer.unsubscribe();
            runtime.spawn(async move {
                if let Err(err) = unsubscribing.await {
                    tracing::warn!(%topic, error = %err, "unsubscribe of a dropped subscription failed");
                }
            });
        }
    }
}

/// A pub/sub broker. Object-safe: services hold an `Arc<dyn Broker>`.
///
/// Brokers connect lazily: [`publish`](Self::publish) and [`subscribe`](Self::subscribe) connect
/// first when needed, so [`connect`](Self::connect) is only for failing early.
pub trait Broker: Send + Sync + 'static {
    /// The broker's name: `memory`, `http` or `nats`.
    fn name(&self) -> &'static str;

    /// Where the broker is: its inbox address (HTTP), its servers (NATS), or `""`.
    fn address(&self) -> String;

    /// Connects (binds the inbox, dials the server). Idempotent.
    fn connect(&self) -> BoxFuture<'_, Result<(), LocalError>>;

    /// Flushes (see [`flush`](Self::flush)) for the broker's flush timeout
    /// ([`DEFAULT_FLUSH_TIMEOUT`] unless configured), then ends the broker's subscriptions and
    /// lets go of the connection, dropping whatever the flush did not get out (the memory broker,
    /// shared by a process and with no connection, does nothing). Using the broker again
    /// reconnects. An `Ok` means every message published before was flushed.
    fn disconnect(&self) -> BoxFuture<'_, Result<(), LocalError>>;

    /// [`disconnect`](Self::disconnect), flushing for at most `flush_timeout` instead of the
    /// broker's default: a stop with a deadline uses this. The default flushes, then calls
    /// `disconnect`; a broker whose `disconnect` flushes again should override it.
    fn disconnect_within(&self, flush_timeout: Duration) -> BoxFuture<'_, Result<(), LocalError>> {
        Box::pin(async move {
            let flushed = self.flush(flush_timeout).await;
            let disconnected = self.disconnect().await;
            flushed.and(disconnected)
        })
    }

    /// Waits until every message published through this broker before the call has left the
    /// process, or `timeout` has passed: for the HTTP broker, each message's copy for each
    /// subscriber has been taken by the subscriber's inbox (answered 2xx) or has failed for good
    /// (refused, its subscriber gone, or sent but never answered: at-most-once, so not sent
    /// again); for NATS, the server has read every message. Messages published meanwhile are not
    /// waited for. At the timeout, the error says how many were still pending; they stay queued
    /// and go on being delivered.
    ///
    /// The default is for brokers that hold nothing back, as the memory broker, whose `publish`
    /// hands each message to its subscriptions' buffers before it returns: `Ok` at once.
    fn flush(&self, timeout: Duration) -> BoxFuture<'_, Result<(), LocalError>> {
        let _ = timeout;
        Box::pin(async { Ok(()) })
    }

    /// Publishes `message` on `topic`. Returns once the broker has taken the message, not when
    /// subscribers have handled it; no subscribers is not an error.
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        message: Message,
    ) -> BoxFuture<'a, Result<(), LocalError>>;

    /// Subscribes `handler` to `topic`.
    fn subscribe<'a>(
        &'a self,
        topic: &'a str,
        handler: EventHandler,
        options: SubscribeOptions,
    ) -> BoxFuture<'a, Result<Subscription, LocalError>>;
}

impl std::fmt::Debug for dyn Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} broker at {:?}", self.name(), self.address())
    }
}

/// A broker error: a [`LocalError`] of kind [`LocalErrorKind::Broker`].
pub fn broker_error(message: impl Into<String>) -> LocalError {
    LocalError::new(LocalErrorKind::Broker, message)
}

/// Checks a topic: not empty, no whitespace or control characters (NATS subjects cannot hold
/// them, and they are header values).
pub fn check_topic(topic: &str) -> Result<(), LocalError> {
    if topic.is_empty() || topic.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(LocalError::new(
            LocalErrorKind::Config,
            format!(
                "invalid topic {topic:?}: it must be non-empty, without spaces or control characters"
            ),
        ));
    }
    Ok(())
}

/// Checks what `publish` is given: the topic, and headers that subscribers will accept
/// ([`MAX_HEADERS`], [`MAX_HEADER_BYTES`], counting the `Micro-Topic` header publishing adds).
/// Every broker refuses the same messages, so code that works on the memory broker works on the
/// others, and a message no subscriber would take fails here, where the caller can act on it.
/// [`prepare_publish`] calls it; a broker that sets `Micro-Topic` itself may call it alone.
pub fn check_publish(topic: &str, message: &Message) -> Result<(), LocalError> {
    check_topic(topic)?;
    let adds_topic = message.get(TOPIC_HEADER).is_none();
    let count = message.header.len() + usize::from(adds_topic);
    let bytes = message
        .header
        .iter()
        .map(|(name, value)| name.len() + value.len())
        .sum::<usize>()
        + if adds_topic {
            TOPIC_HEADER.len() + topic.len()
        } else {
            0
        };
    if count > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return Err(LocalError::new(
            LocalErrorKind::Config,
            format!(
                "a message on {topic:?} with {count} headers of {bytes} bytes: subscribers accept at most {MAX_HEADERS} headers of {MAX_HEADER_BYTES} bytes"
            ),
        ));
    }
    Ok(())
}

/// What a broker's `publish` sends: `message` checked by [`check_publish`], with the
/// `Micro-Topic` header added when the publisher left it out, as go-micro's brokers add it, so
/// subscribers can always read the topic from the headers. Another crate's broker calls this
/// first in its `publish`.
pub fn prepare_publish(topic: &str, mut message: Message) -> Result<Message, LocalError> {
    check_publish(topic, &message)?;
    if message.get(TOPIC_HEADER).is_none() {
        message
            .header
            .insert(TOPIC_HEADER.to_string(), topic.to_string());
    }
    Ok(message)
}
