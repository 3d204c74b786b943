//! Keeping the node in the registry: register on start, re-register every interval with a TTL,
//! deregister on stop.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::Server;
use crate::error::{LocalError, LocalErrorKind};
use crate::registry::{Node, Registry, ServiceRecord};

// A failed registration that took this long was a timeout, not a passing error.
const SLOW_FAILURE: Duration = Duration::from_secs(1);

/// The node's registry record and where it goes.
pub(super) struct Registrar {
    registry: Arc<dyn Registry>,
    record: ServiceRecord,
    ttl: Duration,
    interval: Duration,
}

impl Registrar {
    /// The record go-micro's server would register: node id `<name>-<uuid>`, metadata with
    /// `protocol=mucp` (without it go-micro clients fall back to legacy codecs), endpoints sorted.
    pub(super) fn new(server: &Server, address: String) -> Self {
        let mut metadata: HashMap<String, String> = server.metadata.clone();
        let transport = server.transport.as_ref().map_or("http", |t| t.name());
        for (key, value) in [
            ("protocol", "mucp"),
            ("transport", transport),
            ("server", "mucp"),
            ("broker", "http"),
            ("registry", server.resolved_registry().name()),
        ] {
            metadata.insert(key.to_string(), value.to_string());
        }
        let node = Node {
            id: format!("{}-{}", server.name, server.id),
            address,
            metadata,
        };
        let record = ServiceRecord {
            name: server.name.clone(),
            version: server.version.clone(),
            metadata: None,
            endpoints: server
                .router
                .advertised()
                .into_iter()
                .map(|e| e.to_registry())
                .chain(server.subscribers.iter().map(|s| s.endpoint()))
                .collect(),
            nodes: vec![node],
        };
        Self {
            registry: Arc::clone(server.resolved_registry()),
            record,
            ttl: server.register_ttl,
            interval: server.register_interval,
        }
    }

    pub(super) fn node(&self) -> &Node {
        &self.record.nodes[0]
    }

    fn ttl(&self) -> Option<Duration> {
        (!self.ttl.is_zero()).then_some(self.ttl)
    }

    /// Registers, retrying twice with go-micro's backoff (100 ms, 600 ms) before giving up.
    ///
    /// The retries are for quick, passing failures. An attempt that failed slowly has already
    /// waited out the registry's own dial or request timeout, so it is not repeated: an
    /// unreachable registry fails `start` within one timeout, not three.
    pub(super) async fn register_with_retries(&self) -> Result<(), LocalError> {
        let mut last = None;
        for backoff in [0, 100, 600] {
            tokio::time::sleep(Duration::from_millis(backoff)).await;
            let started = tokio::time::Instant::now();
            match self.registry.register(&self.record, self.ttl()).await {
                Ok(()) => return Ok(()),
                Err(err) => last = Some(err),
            }
            if started.elapsed() >= SLOW_FAILURE {
                break;
            }
        }
        let err = last.expect("one attempt was made");
        Err(LocalError::new(
            LocalErrorKind::Registry,
            format!(
                "cannot register {} in the {} registry",
                self.record.name,
                self.registry.name()
            ),
        )
        .with_source(err))
    }

    /// Re-registers every interval until aborted, so the TTL never runs out while the node lives.
    pub(super) fn spawn_reregister(&self) -> tokio::task::JoinHandle<()> {
        let (registry, record, ttl, interval) = (
            Arc::clone(&self.registry),
            self.record.clone(),
            self.ttl(),
            self.interval,
        );
        tokio::spawn(async move {
            if interval.is_zero() {
                return;
            }
            let mut tick = tokio::time::interval(interval);
            tick.tick().await; // the first tick is immediate; start() has just registered
            loop {
                tick.tick().await;
                if let Err(err) = registry.register(&record, ttl).await {
                    tracing::warn!(service = %record.name, error = %err, "re-register failed");
                }
            }
        })
    }

    /// Removes the node; a failure is logged (the TTL removes it in the end).
    pub(super) async fn deregister(&self) {
        if let Err(err) = self.registry.deregister(&self.record).await {
            tracing::warn!(service = %self.record.name, error = %err, "deregister failed");
        }
    }
}
