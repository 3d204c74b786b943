//! Serving and stopping: the accept loop, and the steps of a graceful stop.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::connection::{self, Shared};
use super::registrar::Registrar;
use tokio::time::Instant;

use crate::broker::{Broker, Subscription};
use crate::error::LocalError;

/// Completes once `flag` turns true (or its sender is gone).
async fn stopped(flag: &mut watch::Receiver<bool>) {
    // `wait_for` hands back a borrow of the value, which must not live across the select.
    let _ = flag.wait_for(|stop| *stop).await.map(|_| ());
}

/// Where a server is in its life; connections watch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    /// Registered and serving.
    Serving,
    /// Deregistered but still serving: replies carry `Connection: close`.
    Leaving,
    /// No longer accepting: idle connections close, calls in flight finish.
    Closing,
}

/// Completes once the server reaches `phase` (or is gone).
pub(crate) async fn reached(server: &mut watch::Receiver<Phase>, phase: Phase) {
    let _ = server.wait_for(|now| *now >= phase).await.map(|_| ());
}

/// How long the steps of a shutdown may take.
pub(super) struct Timing {
    pub(super) deregister_wait: Duration,
    pub(super) drain_timeout: Duration,
    /// The broker to disconnect once stopped, when the server owns it (a service built it).
    pub(super) owned_broker: Option<Arc<dyn Broker>>,
}

/// Ends every subscription, each after its buffered messages are handled or at `deadline`,
/// whichever comes first.
pub(super) async fn unsubscribe_all(subscriptions: Vec<Subscription>, deadline: Instant) {
    let ends = subscriptions.into_iter().map(|subscription| async move {
        let topic = subscription.topic().to_string();
        let left = deadline.saturating_duration_since(Instant::now());
        if let Err(err) = subscription.unsubscribe_within(left).await {
            tracing::warn!(%topic, error = %err, "unsubscribe failed");
        }
    });
    futures_util::future::join_all(ends).await;
}

pub(super) async fn run(
    listener: TcpListener,
    shared: Arc<Shared>,
    registrar: Registrar,
    subscriptions: Vec<Subscription>,
    mut stop: watch::Receiver<bool>,
    timing: Timing,
) -> Result<(), LocalError> {
    let (phase_tx, phase_rx) = watch::channel(Phase::Serving);
    let mut connections = JoinSet::new();
    let reregister = registrar.spawn_reregister();
    accept(
        &listener,
        &shared,
        &phase_rx,
        &mut connections,
        stopped(&mut stop),
    )
    .await;

    // Replies close their connections from here on, and the re-register loop is stopped for
    // good (awaited, so a register in flight cannot land after the deregister).
    let _ = phase_tx.send(Phase::Leaving);
    reregister.abort();
    let _ = reregister.await;
    registrar.deregister().await;
    if !timing.deregister_wait.is_zero() {
        tracing::info!(wait = ?timing.deregister_wait, "deregistered; serving until clients have dropped this node");
    }
    // Subscriptions end alongside the deregister wait: the broker stops sending, and messages
    // already buffered are handled while calls are still served. Subscribers and calls share one
    // drain deadline; handlers still busy at it are stopped.
    let drain_timeout = timing.drain_timeout;
    let drain_deadline = Instant::now() + timing.deregister_wait + drain_timeout;
    let leaving = async {
        let subscribers = unsubscribe_all(subscriptions, drain_deadline);
        tokio::join!(subscribers, tokio::time::sleep(timing.deregister_wait));
    };
    accept(&listener, &shared, &phase_rx, &mut connections, leaving).await;

    drop(listener);
    let _ = phase_tx.send(Phase::Closing);
    let in_flight = connections.len();
    let drained = tokio::time::timeout_at(drain_deadline, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = connections.len(),
            of = in_flight,
            ?drain_timeout,
            "drain timeout: closing connections still busy"
        );
        connections.shutdown().await;
    }
    // What this service published goes out before the process may exit, within what is left of
    // the drain deadline; a broker passed in by the user is theirs to flush.
    let mut disconnected = Ok(());
    if let Some(broker) = timing.owned_broker {
        let left = drain_deadline.saturating_duration_since(Instant::now());
        disconnected = broker.disconnect_within(left).await;
        if let Err(err) = &disconnected {
            tracing::warn!(broker = broker.name(), error = %err, "broker disconnect failed");
        }
    }
    tracing::info!("server stopped");
    disconnected
}

/// Accepts and serves connections until `until` completes.
async fn accept(
    listener: &TcpListener,
    shared: &Arc<Shared>,
    phase: &watch::Receiver<Phase>,
    connections: &mut JoinSet<()>,
    until: impl Future<Output = ()>,
) {
    tokio::pin!(until);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, remote)) => {
                    connections.spawn(connection::serve(socket, remote, Arc::clone(shared), phase.clone()));
                }
                Err(err) => {
                    // Out of file descriptors, most likely: back off instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut until => return,
        }
    }
}
