//! The NATS broker: topics are NATS subjects, messages go-micro's JSON envelope.
//!
//! Compatible on the wire with go-micro's NATS broker (`broker/nats`): a message on topic `t` is
//! published on subject `t` with the data `{"Header":{..,"Micro-Topic":"t"},"Body":"<base64>"}`,
//! and a subscription with a queue group is a NATS queue subscription, so Go and Rust services
//! share topics and queue groups.
//!
//! Delivery is NATS core's: at-most-once. While disconnected, publishes wait in async-nats's
//! outgoing queue (2048 commands) and go out on reconnection; but a server that dies takes what
//! it held with it, and a server drops what arrives for a subject nobody is subscribed to, so
//! when a publisher reconnects before its subscribers, what it queued during the outage is lost.
//! Use `flush` or `disconnect` before exiting: `flush` returns once the server has read every
//! message published before (a round trip, as Go's `nc.Flush`), and `disconnect` flushes first
//! (dropping the broker only tries to, in the background).
//!
//! ## Layout
//! - `servers`: parsing the comma-separated server URLs.
//! - `connection`: dialing, logging connection events, the round trip that confirms a
//!   subscription, closing.
//! - `subscription`: the task feeding one NATS subscription to its handler, and unsubscribing.

mod connection;
mod servers;
mod subscription;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::{PublishErrorKind, SubscribeErrorKind};
use bytes::Bytes;
use tokio::time::timeout;

use self::connection::Connection;
use self::servers::Servers;
use self::subscription::{Readers, Unsubscriber};
use super::{
    Broker, DEFAULT_FLUSH_TIMEOUT, Delivery, EventHandler, Message, SubscribeOptions, Subscription,
    broker_error, check_topic, encode_envelope, prepare_publish,
};
use crate::error::{LocalError, LocalErrorKind};
use crate::registry::BoxFuture;

/// Where the NATS broker connects when `MICRO_BROKER_ADDRESS` is unset (go-micro's default).
pub const DEFAULT_ADDRESS: &str = "nats://127.0.0.1:4222";

/// How long a publish may wait for room in async-nats's outgoing queue, which fills up only
/// during a long outage; past this the publish fails rather than hang its caller.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a dropped broker's connection stays open to write out what was published.
const DROP_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// A broker on NATS (go-micro's `broker/nats`).
///
/// Connects on first use, once, however many tasks ask at the same time. After that the
/// connection survives server restarts: async-nats reconnects with backoff, without limit, and
/// restores every subscription.
///
/// ```no_run
/// # async fn run() -> Result<(), micro_runtime::LocalError> {
/// use micro_runtime::broker::{Broker, Message, nats::NatsBroker};
/// let broker = NatsBroker::new("nats://127.0.0.1:4222")?;
/// broker.publish("events", Message::new("hello")).await?;
/// # Ok(())
/// # }
/// ```
pub struct NatsBroker {
    servers: Servers,
    connection: Mutex<Option<Connection>>,
    // Held while dialing, so concurrent first uses share one connection.
    connecting: tokio::sync::Mutex<()>,
    readers: Readers,
    next_id: AtomicU64,
    // Messages handed to async-nats, and how many of them the server has confirmed reading: what
    // a flush that times out reports as pending.
    published: AtomicU64,
    confirmed: AtomicU64,
}

impl std::fmt::Debug for NatsBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsBroker")
            .field("servers", &self.servers.shown)
            .finish_non_exhaustive()
    }
}

impl NatsBroker {
    /// A broker for `servers`: URLs (`nats://host:port`, `tls://host:port`, or `host:port`),
    /// comma-separated. A malformed list is a [`LocalErrorKind::Config`] error; nothing is dialed
    /// until the broker is used.
    pub fn new(servers: impl Into<String>) -> Result<Self, LocalError> {
        Ok(Self {
            servers: servers::parse(&servers.into())?,
            connection: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            readers: Arc::default(),
            next_id: AtomicU64::new(0),
            published: AtomicU64::new(0),
            confirmed: AtomicU64::new(0),
        })
    }

    /// The open connection; one async-nats has closed for good (it gives up only when told to)
    /// is forgotten, so the next use dials again.
    fn current(&self) -> Option<Connection> {
        let mut connection = self.connection.lock().unwrap_or_else(|e| e.into_inner());
        if connection.as_ref().is_some_and(Connection::is_closed) {
            *connection = None;
        }
        connection.clone()
    }

    /// The connection, dialed first if there is none.
    async fn connection(&self) -> Result<Connection, LocalError> {
        if let Some(connection) = self.current() {
            return Ok(connection);
        }
        let _dialing = self.connecting.lock().await;
        // Someone else may have connected while we waited for the lock.
        if let Some(connection) = self.current() {
            return Ok(connection);
        }
        let connection = Connection::open(&self.servers).await?;
        *self.connection.lock().unwrap_or_else(|e| e.into_inner()) = Some(connection.clone());
        Ok(connection)
    }
}

impl Drop for NatsBroker {
    fn drop(&mut self) {
        // async-nats discards what it has not yet written once its last handle is gone: keep a
        // handle for a flush (bounded), so messages published just before the drop still go out.
        // Subscriptions still held keep the connection open on their own.
        let connection = self
            .connection
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(connection) = connection
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ = timeout(DROP_FLUSH_TIMEOUT, connection.client.flush()).await;
            });
        }
    }
}

impl Broker for NatsBroker {
    fn name(&self) -> &'static str {
        "nats"
    }

    fn address(&self) -> String {
        self.servers.shown.clone()
    }

    fn connect(&self) -> BoxFuture<'_, Result<(), LocalError>> {
        Box::pin(async { self.connection().await.map(drop) })
    }

    /// Flushes for [`DEFAULT_FLUSH_TIMEOUT`], then drains and closes the connection.
    fn disconnect(&self) -> BoxFuture<'_, Result<(), LocalError>> {
        self.disconnect_within(DEFAULT_FLUSH_TIMEOUT)
    }

    /// [`disconnect`](Broker::disconnect), flushing for at most `flush_timeout`.
    fn disconnect_within(&self, flush_timeout: Duration) -> BoxFuture<'_, Result<(), LocalError>> {
        Box::pin(async move {
            let flushed = self.flush(flush_timeout).await;
            let _dialing = self.connecting.lock().await;
            let readers: Vec<_> = self
                .readers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain()
                .map(|(_, stop)| stop)
                .collect();
            for reader in &readers {
                subscription::stop(reader).await;
            }
            let connection = self
                .connection
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some(connection) = connection {
                connection.close().await;
            }
            flushed
        })
    }

    /// Waits until the NATS server has read every message published before: async-nats's
    /// `flush` writes them out, and a round trip proves the server got that far (a server reads a
    /// connection in order). While the server is unreachable this waits for the reconnection,
    /// up to `timeout`. Not connected: nothing to flush.
    fn flush(&self, timeout: Duration) -> BoxFuture<'_, Result<(), LocalError>> {
        Box::pin(async move {
            let Some(connection) = self.current() else {
                return Ok(());
            };
            let published = self.published.load(Ordering::Acquire);
            let confirmed = tokio::time::timeout(timeout, async {
                connection.client.flush().await.map_err(|err| {
                    broker_error("flushing the NATS connection failed").with_source(err)
                })?;
                connection.round_trip().await
            })
            .await;
            match confirmed {
                Ok(Ok(())) => {
                    self.confirmed.fetch_max(published, Ordering::AcqRel);
                    Ok(())
                }
                Ok(Err(err)) => Err(err),
                Err(_elapsed) => {
                    let pending = published.saturating_sub(self.confirmed.load(Ordering::Acquire));
                    Err(broker_error(format!(
                        "the NATS broker's flush timed out after {timeout:?} with {pending} \
                         messages not confirmed by the server at {}",
                        self.servers.shown
                    )))
                }
            }
        })
    }

    fn publish<'a>(
        &'a self,
        topic: &'a str,
        message: Message,
    ) -> BoxFuture<'a, Result<(), LocalError>> {
        Box::pin(async move {
            let message = prepare_publish(topic, message)?;
            let payload = Bytes::from(encode_envelope(&message));
            let connection = self.connection().await?;
            let publish = connection.client.publish(topic.to_string(), payload);
            match timeout(PUBLISH_TIMEOUT, publish).await {
                Ok(Ok(())) => {
                    self.published.fetch_add(1, Ordering::AcqRel);
                    Ok(())
                }
                Ok(Err(err)) => {
                    let kind = match err.kind() {
                        PublishErrorKind::InvalidSubject => LocalErrorKind::Config,
                        _ => LocalErrorKind::Broker,
                    };
                    let message = format!("cannot publish on {topic:?} to NATS");
                    Err(LocalError::new(kind, message).with_source(err))
                }
                Err(_) => Err(broker_error(format!(
                    "cannot publish on {topic:?}: NATS at {} is unreachable and the outgoing \
                     queue stayed full for {PUBLISH_TIMEOUT:?}",
                    self.servers.shown
                ))),
            }
        })
    }

    fn subscribe<'a>(
        &'a self,
        topic: &'a str,
        handler: EventHandler,
        options: SubscribeOptions,
    ) -> BoxFuture<'a, Result<Subscription, LocalError>> {
        Box::pin(async move {
            check_topic(topic)?;
            let connection = self.connection().await?;
            let client = &connection.client;
            let subscribed = match &options.queue {
                None => client.subscribe(topic.to_string()).await,
                Some(queue) => {
                    client
                        .queue_subscribe(topic.to_string(), queue.clone())
                        .await
                }
            };
            let subscriber = subscribed.map_err(|err| {
                let kind = match err.kind() {
                    SubscribeErrorKind::InvalidSubject | SubscribeErrorKind::InvalidQueueName => {
                        LocalErrorKind::Config
                    }
                    _ => LocalErrorKind::Broker,
                };
                let message = format!(
                    "cannot subscribe to {topic:?} (queue {:?}) at NATS",
                    options.queue
                );
                LocalError::new(kind, message).with_source(err)
            })?;
            // Return only once the server has the SUB: a publish right after, from any
            // connection, then reaches this subscription. On failure `subscriber` is dropped,
            // which unsubscribes.
            connection.round_trip().await?;

            let delivery = Delivery::spawn(topic, handler, &options);
            let stop = subscription::spawn_reader(subscriber, delivery.sender());
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            self.readers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, Arc::clone(&stop));
            let closer = Box::new(Unsubscriber {
                id,
                stop,
                readers: Arc::downgrade(&self.readers),
                client: client.clone(),
            });
            Ok(Subscription::new(topic, options, delivery, closer))
        })
    }
}
