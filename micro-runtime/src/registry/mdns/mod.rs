//! [`MdnsRegistry`]: go-micro's default registry, multicast DNS on the local link, with
//! go-micro's records so Go and Rust services find each other.
//!
//! Records (go-micro `registry/mdns_registry.go`, hashicorp/mdns zone), in the domain `micro.`:
//! - per node, an instance `<node-id>.<service>.micro.` with an SRV (node port, this host's name
//!   as target), an A (or AAAA) record with the node's IP, and a TXT holding
//!   `hex(zlib(JSON))` of the service name, version, endpoints and node metadata;
//! - per service, a wildcard instance `<service>._services.micro.` (port 9999, IP 0.0.0.0) that
//!   [`list_services`](Registry::list_services) finds;
//! - PTRs from `<service>.micro.`, `_services.micro.` and `_services._dns-sd._udp.micro.`.
//!
//! Behaviour:
//! - `register` announces the nodes at once and again a second later, and answers questions
//!   while they stay registered. Records carry the registration TTL (so a killed node's records
//!   expire with it), or go-micro's 120 s without one. A node registered with a TTL is no longer
//!   answered for once the TTL passes without a new `register`.
//! - `deregister` says goodbye (the records with TTL 0) and stops answering.
//! - `get_service` asks `<service>.micro.` and collects answers for
//!   [`MdnsOptions::query_timeout`], grouping nodes by version. The TXT carries no service
//!   metadata, so services read back have none.
//! - `list_services` returns names only, as go-micro's.
//! - `watch` reports nodes heard from then on: create, update (changed TXT or address), and
//!   delete on a goodbye or when a node's TTL runs out unrefreshed.
//! - Records other programs send that cannot be read are skipped with a warning.
//!
//! IPv4 only: sockets join 224.0.0.251 (not ff02::fb), though AAAA records for IPv6 node
//! addresses are sent and read. Sockets start lazily, on first use inside a tokio runtime.
//!
//! ## Layout
//! - `mod.rs`: [`MdnsRegistry`] and [`MdnsOptions`].
//! - `record.rs`: go-micro's TXT encoding.
//! - `name.rs`: service, instance and listing names.
//! - `interface.rs`: choosing interfaces; `socket.rs`: the multicast socket on each.
//! - `engine.rs`: sockets, receive tasks and shared state.
//! - `zone.rs`: our registered nodes as records; `responder.rs`: answering and announcing them.
//! - `entry.rs`: reading nodes from responses; `query.rs`: lookups; `watch.rs`: the watch cache.

#[cfg(test)]
mod corpus;
mod engine;
mod entry;
mod interface;
mod name;
mod query;
mod record;
mod responder;
mod socket;
mod watch;
mod zone;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use self::engine::Engine;
use super::{BoxFuture, Registry, ServiceRecord, Watcher};
use crate::{LocalError, LocalErrorKind};

// The pause between the two copies of a goodbye.
const GOODBYE_REPEAT: std::time::Duration = std::time::Duration::from_millis(20);

/// Settings for an [`MdnsRegistry`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MdnsOptions {
    /// The DNS domain records live in; go-micro's is `micro`.
    pub domain: String,
    /// How long `get_service` and `list_services` collect answers; go-micro's is 100 ms.
    pub query_timeout: Duration,
    /// Interface names to multicast on. Empty: every up IPv4 interface that can multicast
    /// (loopback included when it has the MULTICAST flag).
    pub interfaces: Vec<String>,
}

impl Default for MdnsOptions {
    fn default() -> Self {
        Self {
            domain: "micro".into(),
            query_timeout: Duration::from_millis(100),
            interfaces: Vec::new(),
        }
    }
}

/// A [`Registry`] over multicast DNS, compatible with go-micro's. Clones share sockets and state.
///
/// ```no_run
/// use std::sync::Arc;
/// use micro_runtime::registry::{MdnsOptions, MdnsRegistry, Registry};
///
/// # async fn demo() -> Result<(), micro_runtime::LocalError> {
/// let registry: Arc<dyn Registry> = Arc::new(MdnsRegistry::new(MdnsOptions::default()));
/// for service in registry.get_service("greeter").await? {
///     println!("{} {}: {} nodes", service.name, service.version, service.nodes.len());
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct MdnsRegistry {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    options: MdnsOptions,
    engine: OnceCell<Arc<Engine>>,
}

impl MdnsRegistry {
    /// A registry with `options`. Nothing opens until first use, which must be inside a tokio
    /// runtime; a socket that cannot open is then that call's error.
    pub fn new(options: MdnsOptions) -> Self {
        Self {
            shared: Arc::new(Shared {
                options,
                engine: OnceCell::new(),
            }),
        }
    }

    // Starts the engine on first use; a failure is returned and retried on the next call.
    async fn engine(&self) -> Result<&Arc<Engine>, LocalError> {
        self.shared
            .engine
            .get_or_try_init(|| async { Engine::start(&self.shared.options) })
            .await
    }

    async fn register_now(
        &self,
        service: &ServiceRecord,
        ttl: Option<Duration>,
    ) -> Result<(), LocalError> {
        if service.name.is_empty() {
            return Err(LocalError::new(
                LocalErrorKind::Registry,
                "mdns: the service name is empty",
            ));
        }
        let engine = self.engine().await?;
        let (groups, serials) = {
            let mut state = engine.lock();
            let locals = state.zone.prepare(service, ttl)?;
            let stored = state.zone.insert(locals);
            let mut groups: Vec<_> = stored
                .iter()
                .map(|l| state.zone.announcement(l, l.ttl))
                .collect();
            if let Some(first) = stored.first() {
                groups.push(state.zone.wildcard_announcement(first, first.ttl));
            }
            let serials: Vec<_> = stored
                .into_iter()
                .map(|l| (l.service.name, l.node.id, l.serial))
                .collect();
            (groups, serials)
        };
        engine.announce(groups).await?;
        responder::announce_again(Arc::downgrade(engine), serials);
        Ok(())
    }

    async fn deregister_now(&self, service: &ServiceRecord) -> Result<(), LocalError> {
        let engine = self.engine().await?;
        let groups = {
            let mut state = engine.lock();
            let (removed, last) = state.zone.remove(service);
            let mut groups: Vec<_> = removed
                .iter()
                .map(|l| state.zone.announcement(l, 0))
                .collect();
            if let (true, Some(first)) = (last, removed.first()) {
                groups.push(state.zone.wildcard_announcement(first, 0));
            }
            groups
        };
        // A goodbye is one UDP datagram; sent twice, as RFC 6762 §10.1 allows, so that one lost
        // packet does not leave watchers holding the node until its TTL ends.
        engine.announce(groups.clone()).await?;
        tokio::time::sleep(GOODBYE_REPEAT).await;
        engine.announce(groups).await
    }
}

impl Registry for MdnsRegistry {
    fn register<'a>(
        &'a self,
        service: &'a ServiceRecord,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), LocalError>> {
        Box::pin(self.register_now(service, ttl))
    }

    fn deregister<'a>(
        &'a self,
        service: &'a ServiceRecord,
    ) -> BoxFuture<'a, Result<(), LocalError>> {
        Box::pin(self.deregister_now(service))
    }

    fn get_service<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ServiceRecord>, LocalError>> {
        Box::pin(async move { query::get_service(self.engine().await?, name).await })
    }

    fn list_services(&self) -> BoxFuture<'_, Result<Vec<ServiceRecord>, LocalError>> {
        Box::pin(async move { query::list_services(self.engine().await?).await })
    }

    fn watch<'a>(&'a self, service: Option<&'a str>) -> BoxFuture<'a, Result<Watcher, LocalError>> {
        Box::pin(async move {
            let engine = self.engine().await?;
            Ok(engine.lock().cache.subscribe(service))
        })
    }

    fn name(&self) -> &'static str {
        "mdns"
    }
}

crate::setters!(MdnsOptions {
    /// Sets [`MdnsOptions::domain`].
    domain: String,
    /// Sets [`MdnsOptions::query_timeout`].
    query_timeout: Duration,
    /// Sets [`MdnsOptions::interfaces`].
    interfaces: Vec<String>,
});
