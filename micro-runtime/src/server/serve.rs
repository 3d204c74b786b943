//! Serving and stopping: the accept loop, and the steps of a graceful stop.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::transport::Listener;
use crate::transport::accept::Acceptor;
use crate::transport::server_conn::ServerConn;
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

/// What a server listens on.
pub(crate) enum Bound {
    /// A TCP listener, served with micro's HTTP transport.
    Tcp(TcpListener),
    /// Another transport's listener.
    Socket(Box<dyn Listener>),
}

pub(super) async fn run(
    listener: Bound,
    shared: Arc<Shared>,
    registrar: Registrar,
    subscriptions: Vec<Subscription>,
    mut stop: watch::Receiver<bool>,
    timing: Timing,
) -> Result<(), LocalError> {
    let (phase_tx, phase_rx) = watch::channel(Phase::Serving);
    let mut connections = JoinSet::new();
    let mut listener = match listener {
        Bound::Tcp(listener) => Acceptor::new(listener, &shared.limits, REFUSAL, "rpc server"),
        Bound::Socket(listener) => Acceptor::from_listener(listener, &shared.limits, "rpc server"),
    };
    let reregister = registrar.spawn_reregister();
    accept(
        &mut listener,
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
    accept(&mut listener, &shared, &phase_rx, &mut connections, leaving).await;

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

/// What a connection over the server's connection caps is answered before it is closed: go-micro's
/// error shape, so a go-micro or micro client reports it as a 503 from this server.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\
Content-Type: application/json\r\nContent-Length: 98\r\n\
Micro-Error: {\"id\":\"go.micro.server\",\"code\":503,\"detail\":\"too many connections\",\"status\":\"Service Unavailable\"}\r\n\r\n\
{\"id\":\"go.micro.server\",\"code\":503,\"detail\":\"too many connections\",\"status\":\"Service Unavailable\"}";

/// Accepts and serves connections until `until` completes.
async fn accept(
    listener: &mut Acceptor,
    shared: &Arc<Shared>,
    phase: &watch::Receiver<Phase>,
    connections: &mut JoinSet<()>,
    until: impl Future<Output = ()>,
) {
    tokio::pin!(until);
    loop {
        tokio::select! {
            (accepted, slot) = listener.accept() => {
                let conn = ServerConn::new(accepted, &shared.limits, &shared.budget, slot);
                connections.spawn(connection::serve(conn, Arc::clone(shared), phase.clone()));
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut until => return,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_refusal_is_a_well_formed_response() {
        let wire = super::REFUSAL;
        let mut headers = [httparse::EMPTY_HEADER; 8];
        let mut response = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(len) = response.parse(wire).unwrap() else {
            panic!("incomplete")
        };
        assert_eq!(response.code, Some(503));
        let length = response
            .headers
            .iter()
            .find(|h| h.name == "Content-Length")
            .unwrap();
        let body = &wire[len..];
        assert_eq!(
            std::str::from_utf8(length.value).unwrap(),
            body.len().to_string()
        );
        let error: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(error["code"], 503);
    }
}
