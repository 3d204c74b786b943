//! The HTTP broker: go-micro's default pub/sub, between processes that share a registry.
//!
//! There is no broker server. Each process runs a small HTTP server, its *inbox*, and every
//! subscription registers itself in the service registry the process already uses, as a node of
//! the service [`SERVICE_NAME`] (`micro.http.broker`):
//!
//! | field | value |
//! |---|---|
//! | version | the queue group, or [`BROADCAST_VERSION`] (`ff.http.broadcast`) |
//! | node id | `<topic>-<uuid>`, one uuid per subscription |
//! | node address | the inbox, `ip:port` |
//! | node metadata | `{"broker": "http", "topic": <topic>, "secure": "false"}` |
//!
//! A publisher looks the service up, keeps the nodes of the topic, and POSTs the message to each
//! broadcast node and to one member of each queue group: `POST /?id=<node id>` with go-micro's
//! JSON envelope `{"Header":{..,"Micro-Topic":<topic>},"Body":"<base64>"}`. Records, wire and
//! envelope are go-micro's, so Go and Rust services publish to and subscribe from each other.
//!
//! Where we differ from go-micro, deliberately:
//! - one uuid per subscription rather than per broker, so two subscriptions to one topic in one
//!   process have distinct node ids (Go dispatches by id, so this stays compatible);
//! - each subscriber node has its own outbound queue and task over a keep-alive connection, so a
//!   slow or dead subscriber never delays the others, and a queue group's members work in
//!   parallel; Go keeps one backlog per topic, capped at 64, and sends it a few messages per
//!   publish;
//! - several messages are in flight to a node at once, pipelined on that connection (see
//!   [`HttpBroker::pipeline`]); Go's server answers pipelined requests in order, as our inbox
//!   does;
//! - a queue group's member is picked at random among the least loaded healthy ones, not
//!   uniformly at random;
//! - the inbox answers what happened (404 unknown id, 400 unreadable message, 413 too large, 503
//!   buffer full, after which it closes the connection so that nothing pipelined behind is
//!   taken), and a publisher retries what was surely not delivered (503, 404 in a group, a
//!   connection that failed before the message was sent) with backoff, moving a group's message
//!   to another member where it can; Go always answers 200 and discards the reply;
//! - no TLS: subscribers registered with `secure=true` (go-micro's `Secure` option) are skipped,
//!   with a warning.
//!
//! A subscription holds on to its broker's inbox: dropping the [`HttpBroker`] handle leaves the
//! subscriptions made through it served until they end. [`Broker::disconnect`] ends them all.
//!
//! **Delivery is at-most-once.** A message waits in its target's queue only in the publisher's
//! memory: it is lost if the publisher exits without a flush ([`Broker::flush`], which
//! [`Broker::disconnect`] does for [`HttpBroker::flush_timeout`], as a service's stop does), when the queue is full and its subscriber failing
//! (the newest is dropped), when it has waited longer than [`HttpBroker::max_message_age`], when
//! its broadcast subscriber has left, or when the subscriber got it but did not answer (it may be
//! handling it, so it is not sent again). A full queue whose subscriber is healthy (its last
//! delivery succeeded and nothing is being retried) makes `publish` wait for room instead, up to
//! the [reply timeout](HttpBroker::reply_timeout), so a flat-out publisher is slowed to the pace of
//! a healthy subscriber rather than losing messages; a refusing, busy (503) or silent one never
//! holds it up, and one that stays full for a whole wait is then dropped for at once until its
//! queue has room again. A queue group's message goes to a member with room while there is one.
//! A subscriber that restarts gets a new node id, so only queue groups (whose members replace
//! each other) and inboxes that were briefly unreachable benefit from the retries.
//!
//! ## Layout
//! - `mod.rs`: [`HttpBroker`] and the [`Broker`] implementation.
//! - `options.rs`: the builder methods and their defaults.
//! - `registration.rs`: the subscriptions table and each subscription's registry record.
//! - `inbox.rs`: the HTTP server that receives messages for this process's subscriptions, and
//!   its limits.
//! - `receive.rs`: what the inbox answers to one message.
//! - `publish.rs`: finding a topic's subscribers in the registry.
//! - `outbox.rs`: the per-node queues, and picking a queue group's member.
//! - `peer.rs`: what the queues, `publish` and a node's task share: its health and load.
//! - `backpressure.rs`: `publish` waiting for room in a healthy node's full queue.
//! - `flush.rs`: the publish rounds a flush waits for.
//! - `target.rs`: the task serving one node's queue, and the retry policy.
//! - `post.rs`: POSTs to a subscriber over a keep-alive connection, and what a failure proves.
//! - `pipeline.rs`: several POSTs in flight on one connection, their replies read in order.

mod backpressure;
mod flush;
mod inbox;
mod options;
mod outbox;
mod peer;
mod pipeline;
mod post;
mod publish;
mod receive;
mod registration;
mod target;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

use self::inbox::Inbox;
use self::options::Options;
pub use self::options::{
    DEFAULT_ADDRESS, DEFAULT_BACKLOG, DEFAULT_DIAL_TIMEOUT, DEFAULT_MAX_MESSAGE_AGE,
    DEFAULT_PIPELINE, DEFAULT_REGISTER_INTERVAL, DEFAULT_REGISTER_TTL, DEFAULT_REPLY_TIMEOUT,
};
use self::outbox::Outbox;
use self::registration::{Entry, Subscriptions, Unsubscriber};
use super::{
    Broker, Delivery, EventHandler, Message, SubscribeOptions, Subscription, broker_error,
    check_topic,
};
use crate::error::LocalError;
use crate::registry::{BoxFuture, Registry};
use crate::transport::{advertise_address, listen};

/// The registry service every HTTP broker subscription is a node of (go-micro's).
pub const SERVICE_NAME: &str = "micro.http.broker";
/// The version broadcast subscriptions register under; any other version is a queue group.
pub const BROADCAST_VERSION: &str = "ff.http.broadcast";

/// go-micro's HTTP broker: an inbox per process, subscribers found in the registry.
///
/// ```
/// use std::sync::Arc;
/// use micro_runtime::broker::http::HttpBroker;
/// use micro_runtime::broker::{Broker, Message, SubscribeOptions, event_handler};
/// use micro_runtime::registry::MemoryRegistry;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// // Every process uses the same registry (mDNS or etcd in real life) and runs its own broker.
/// let registry = Arc::new(MemoryRegistry::new());
/// let subscriber = HttpBroker::new(registry.clone()).address("127.0.0.1:0");
/// let publisher = HttpBroker::new(registry);
///
/// let (tx, mut received) = tokio::sync::mpsc::unbounded_channel();
/// let handler = event_handler(move |event| {
///     let _ = tx.send(event.message().body.clone());
///     async { Ok(()) }
/// });
/// let subscription = subscriber.subscribe("events", handler, SubscribeOptions::new()).await?;
/// publisher.publish("events", Message::new("hello")).await?;
/// assert_eq!(received.recv().await.unwrap(), "hello");
///
/// subscription.unsubscribe().await?;
/// subscriber.disconnect().await?;
/// # Ok::<_, micro_runtime::LocalError>(())
/// # }).unwrap();
/// ```
pub struct HttpBroker {
    // Copy on write: the builder changes it, tasks keep the snapshot they started with.
    options: Arc<Options>,
    inner: Arc<Inner>,
}

/// The broker's state, shared with its subscriptions: a live subscription keeps the inbox it is
/// served from running, even once the broker handle is dropped.
struct Inner {
    registry: Arc<dyn Registry>,
    subscriptions: Arc<Subscriptions>,
    outbox: Arc<Outbox>,
    // The inbox and the re-register loop, while connected. An async lock, so that concurrent
    // `connect`s bind one inbox and a `disconnect` never interleaves with a `subscribe`.
    state: tokio::sync::Mutex<Option<Running>>,
    // The registered inbox address, readable without waiting for `state`.
    advertised: Mutex<Option<String>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The outbox's tasks hold the outbox, not the broker: stop them with it.
        self.outbox.stop();
    }
}

/// A connected broker's inbox and re-register loop.
struct Running {
    inbox: Inbox,
    reregister: AbortOnDrop,
    address: String,
}

/// A task that must not outlive its owner.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl HttpBroker {
    /// A broker finding subscribers in `registry` (and registering its own there), its inbox on
    /// [`DEFAULT_ADDRESS`]. Nothing is bound or spawned until the broker is used.
    pub fn new(registry: Arc<dyn Registry>) -> Self {
        Self {
            options: Arc::default(),
            inner: Arc::new(Inner {
                outbox: Arc::new(Outbox::new(Arc::clone(&registry))),
                subscriptions: Arc::default(),
                registry,
                state: tokio::sync::Mutex::new(None),
                advertised: Mutex::new(None),
            }),
        }
    }

    /// The running inbox, binding it first if needed. The caller holds the state lock.
    async fn ensure_running<'a>(
        &self,
        state: &'a mut Option<Running>,
    ) -> Result<&'a Running, LocalError> {
        match state {
            Some(running) => Ok(running),
            None => Ok(state.insert(self.start().await?)),
        }
    }

    /// Binds the inbox and starts re-registering subscriptions.
    async fn start(&self) -> Result<Running, LocalError> {
        let options = &self.options;
        let listener = listen(&options.address).await.map_err(|err| {
            broker_error(format!(
                "the HTTP broker cannot listen on {}",
                options.address
            ))
            .with_source(err)
        })?;
        let inbox = Inbox::start(
            listener,
            Arc::clone(&self.inner.subscriptions),
            Arc::clone(options),
        )
        .map_err(|err| broker_error("the HTTP broker's inbox has no address").with_source(err))?;
        let address = advertise_address(inbox.local_addr(), None)?;
        let reregister = registration::spawn_reregister(
            Arc::clone(&self.inner.subscriptions),
            Arc::clone(&self.inner.registry),
            options.ttl(),
            options.register_interval,
        );
        tracing::debug!(%address, "HTTP broker inbox listening");
        *lock(&self.inner.advertised) = Some(address.clone());
        Ok(Running {
            inbox,
            reregister: AbortOnDrop(reregister),
            address,
        })
    }
}

impl std::fmt::Debug for HttpBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpBroker")
            .field("address", &Broker::address(self))
            .field("registry", &self.inner.registry.name())
            .finish_non_exhaustive()
    }
}

impl Broker for HttpBroker {
    fn name(&self) -> &'static str {
        "http"
    }

    /// The registered inbox address once connected (`ip:port`), else the configured listen
    /// address.
    fn address(&self) -> String {
        lock(&self.inner.advertised)
            .clone()
            .unwrap_or_else(|| self.options.address.clone())
    }

    /// Binds the inbox. Idempotent; concurrent calls bind once.
    fn connect(&self) -> BoxFuture<'_, Result<(), LocalError>> {
        Box::pin(async move {
            let mut state = self.inner.state.lock().await;
            self.ensure_running(&mut state).await.map(|_| ())
        })
    }

    /// Flushes for the [flush timeout](HttpBroker::flush_timeout), then deregisters every
    /// subscription, stops the inbox and drops the messages still queued for delivery, with a
    /// warning. The broker can connect again afterwards; subscriptions ended here stay ended.
    /// Fails if the flush timed out (the error says how many messages were dropped) or a
    /// deregister failed; everything is stopped either way.
    fn disconnect(&self) -> BoxFuture<'_, Result<(), LocalError>> {
        self.disconnect_within(self.options.flush_timeout)
    }

    /// [`disconnect`](Broker::disconnect), flushing for at most `flush_timeout`.
    fn disconnect_within(&self, flush_timeout: Duration) -> BoxFuture<'_, Result<(), LocalError>> {
        Box::pin(async move {
            // Before anything stops: this process's own inbox may be a subscriber.
            let flushed = self.flush(flush_timeout).await;
            let mut state = self.inner.state.lock().await;
            let mut failed = None;
            if let Some(mut running) = state.take() {
                // Awaited, so a re-register in flight cannot land after the deregister.
                running.reregister.0.abort();
                let _ = (&mut running.reregister.0).await;
                // Deregistered while still in the table, as an unsubscribe does, so publishers stop
                // picking the nodes before the inbox refuses them; the table is emptied even if
                // this future is dropped half-way.
                let subscriptions = &self.inner.subscriptions;
                let _empty = scopeguard(|| subscriptions.drain());
                let entries = subscriptions.snapshot();
                entries.iter().for_each(|entry| entry.end());
                for entry in entries {
                    if let Err(err) = entry.retire(self.inner.registry.as_ref()).await {
                        failed.get_or_insert(err);
                    }
                }
                running.inbox.stop().await;
                *lock(&self.inner.advertised) = None;
                tracing::debug!(address = %running.address, "HTTP broker inbox stopped");
            }
            let dropped = self.inner.outbox.stop();
            if dropped > 0 {
                tracing::warn!(
                    dropped,
                    "HTTP broker disconnected with messages not yet delivered; they are dropped"
                );
            }
            let deregistered = match failed {
                None => Ok(()),
                Some(err) => Err(broker_error(format!(
                    "the HTTP broker disconnected, but deregistering its subscriptions from the {} registry failed",
                    self.inner.registry.name()
                ))
                .with_source(err)),
            };
            if let (Err(_), Err(err)) = (&flushed, &deregistered) {
                tracing::warn!(error = %err, "HTTP broker disconnect");
            }
            flushed.and(deregistered)
        })
    }

    /// Waits until every message published before has been taken by its subscribers' inboxes
    /// (answered 2xx) or has failed for good, per subscriber: see [`Broker::flush`]. A message
    /// being retried (its subscriber unreachable or busy) is waited for until it gets through or
    /// is too old ([`HttpBroker::max_message_age`]); one sent but not answered within the
    /// [reply timeout](HttpBroker::reply_timeout) counts as failed, and is not sent again.
    fn flush(&self, timeout: Duration) -> BoxFuture<'_, Result<(), LocalError>> {
        Box::pin(async move {
            self.inner
                .outbox
                .rounds()
                .flush(timeout)
                .await
                .map_err(|pending| {
                    broker_error(format!(
                        "the HTTP broker's flush timed out after {timeout:?} with {pending} \
                     deliveries still pending (a message counts once per subscriber)"
                    ))
                })
        })
    }

    /// Queues `message` for every broadcast subscriber of `topic` and one member of each of its
    /// queue groups, then returns: delivery runs in the background. Where a healthy subscriber's
    /// queue is full (for a group: every member's), this waits for room, up to the reply timeout;
    /// where the subscriber is failing or being retried, the message is dropped at once, with a
    /// warning (see the module doc). Fails only for an invalid
    /// topic, a message whose envelope is over the limit (see [`HttpBroker::limits`]), or when
    /// the registry fails and no earlier answer is cached.
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        message: Message,
    ) -> BoxFuture<'a, Result<(), LocalError>> {
        Box::pin(publish::publish(
            &self.inner.outbox,
            &self.options,
            topic,
            message,
        ))
    }

    /// Binds the inbox if needed, then registers the subscription in the registry.
    fn subscribe<'a>(
        &'a self,
        topic: &'a str,
        handler: EventHandler,
        options: SubscribeOptions,
    ) -> BoxFuture<'a, Result<Subscription, LocalError>> {
        Box::pin(async move {
            check_topic(topic)?;
            let mut options = options;
            // An empty queue name means broadcast, as in go-micro.
            options.queue = options.queue.filter(|queue| !queue.is_empty());
            let mut state = self.inner.state.lock().await;
            let address = self.ensure_running(&mut state).await?.address.clone();
            let delivery = Delivery::spawn(topic, handler, &options);
            let entry = Arc::new(Entry::new(topic, options.queue.as_deref(), address));
            // In the table before it is in the registry, so the first message finds it.
            self.inner
                .subscriptions
                .insert(Arc::clone(&entry), delivery.sender());
            drop(state);
            let registry = self.inner.registry.as_ref();
            if let Err(err) = entry.register(registry, self.options.ttl()).await {
                self.inner.subscriptions.remove(entry.id());
                // The write may have landed before it failed (a timeout): take it back.
                if let Err(undo) = entry.retire(registry).await {
                    tracing::debug!(node = %entry.id(), error = %undo, "deregistering a failed subscription failed too");
                }
                return Err(broker_error(format!(
                    "cannot subscribe to {topic}: registering node {} in the {} registry failed",
                    entry.id(),
                    registry.name()
                ))
                .with_source(err));
            }
            let closer = Box::new(Unsubscriber::new(Arc::clone(&self.inner), entry));
            Ok(Subscription::new(topic, options, delivery, closer))
        })
    }
}

/// Runs `f` when dropped: cleanup that must happen even if a future is cancelled half-way.
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing guarded here can be left half-updated by a panic.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
