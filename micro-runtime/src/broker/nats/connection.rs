//! One connection to NATS: dialing it, logging what happens to it, proving the server has read
//! what was sent, and closing it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::{Client, ConnectOptions, Event};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::time::timeout;

use super::servers::Servers;
use crate::broker::broker_error;
use crate::error::LocalError;

/// How long one server may take to accept a connection and finish the NATS handshake.
const SERVER_TIMEOUT: Duration = Duration::from_secs(5);
/// The bound on a whole first connection, however many servers are listed.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The bound on a round trip to the server.
const ROUND_TRIP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long closing waits for async-nats to flush what was published.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A live async-nats client and a flag its event callback raises once it has closed.
#[derive(Clone)]
pub(super) struct Connection {
    pub(super) client: Client,
    closed: watch::Receiver<bool>,
}

impl Connection {
    /// Dials the servers. The first connection must succeed within [`CONNECT_TIMEOUT`]; after
    /// that async-nats reconnects on its own, without limit and with its backoff (up to 4 s
    /// between attempts), and subscribes again to everything.
    pub(super) async fn open(servers: &Servers) -> Result<Self, LocalError> {
        let (closed_tx, closed) = watch::channel(false);
        let shown: Arc<str> = Arc::from(servers.shown.as_str());
        let connected_before = AtomicBool::new(false);
        let options = ConnectOptions::new()
            .name("micro")
            .connection_timeout(SERVER_TIMEOUT)
            // A service outlives a NATS outage: never give up reconnecting (async-nats's default,
            // stated so that a later default cannot change it silently).
            .max_reconnects(None)
            .event_callback(move |event| {
                let again = matches!(event, Event::Connected)
                    && connected_before.swap(true, Ordering::Relaxed);
                log_event(&event, &shown, again);
                if matches!(event, Event::Closed) {
                    closed_tx.send_replace(true);
                }
                std::future::ready(())
            });
        let unreachable = || broker_error(format!("cannot reach NATS at {}", servers.shown));
        match timeout(CONNECT_TIMEOUT, options.connect(servers.addrs.clone())).await {
            Ok(Ok(client)) => Ok(Self { client, closed }),
            Ok(Err(err)) => Err(unreachable().with_source(err)),
            Err(_) => Err(broker_error(format!(
                "cannot reach NATS at {}: no server answered within {CONNECT_TIMEOUT:?}",
                servers.shown
            ))),
        }
    }

    /// Whether async-nats has closed the connection for good.
    pub(super) fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Waits until the server has read everything this connection sent before the call.
    ///
    /// async-nats's `flush` only writes its buffer to the socket; the server may not have read it
    /// yet. A server handles one connection's messages in order, so a message to ourselves
    /// coming back proves that every earlier command (a SUB in particular) has taken effect,
    /// and a publish from another connection can no longer miss it. (Go's `nc.Flush` is a
    /// PING/PONG for the same reason; async-nats does not expose one.)
    pub(super) async fn round_trip(&self) -> Result<(), LocalError> {
        let inbox = self.client.new_inbox();
        let failed = |what: &str| broker_error(format!("NATS round trip failed: {what}"));
        let mut echo = self
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| failed("subscribe").with_source(e))?;
        self.client
            .publish(inbox, Bytes::new())
            .await
            .map_err(|e| failed("publish").with_source(e))?;
        match timeout(ROUND_TRIP_TIMEOUT, echo.next()).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(failed("the connection closed")),
            Err(_) => Err(failed(&format!(
                "the server did not answer within {ROUND_TRIP_TIMEOUT:?}"
            ))),
        }
    }

    /// Drains the connection: async-nats ends its subscriptions, writes out what was published
    /// and closes. Waits (bounded) for that, so messages published before a `disconnect` are on
    /// the wire when it returns.
    pub(super) async fn close(mut self) {
        if let Err(err) = self.client.drain().await {
            tracing::debug!(error = %err, "NATS drain failed; the connection is closing anyway");
        }
        if timeout(CLOSE_TIMEOUT, self.closed.wait_for(|closed| *closed))
            .await
            .is_err()
        {
            // Disconnected at the time: async-nats keeps trying to reconnect in the background and
            // closes once it gets through, since nothing can use the client any more.
            tracing::warn!(
                "NATS connection not closed within {CLOSE_TIMEOUT:?}; messages published just \
                 before may be lost"
            );
        }
    }
}

/// Logs a connection event. `again`: a `Connected` that is a reconnection.
fn log_event(event: &Event, servers: &str, again: bool) {
    match event {
        Event::Connected if again => tracing::info!(%servers, "reconnected to NATS"),
        Event::Connected => tracing::debug!(%servers, "connected to NATS"),
        Event::Disconnected => tracing::warn!(
            %servers,
            "lost the connection to NATS; reconnecting (publishes wait in the client meanwhile)"
        ),
        Event::SlowConsumer(sid) => tracing::warn!(
            %servers,
            sid,
            "a NATS subscription fell behind: async-nats dropped messages for it"
        ),
        Event::LameDuckMode => tracing::warn!(
            %servers,
            "the NATS server is shutting down (lame duck mode); reconnecting elsewhere"
        ),
        Event::ServerError(err) => tracing::warn!(%servers, error = %err, "NATS server error"),
        Event::ClientError(err) => tracing::warn!(%servers, error = %err, "NATS client error"),
        Event::Draining | Event::Closed => tracing::debug!(%servers, %event, "NATS connection"),
    }
}
