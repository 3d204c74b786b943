//! [`EtcdRegistry`]: service discovery through etcd v3, laid out exactly as go-micro's etcd
//! registry lays it out, so Rust and Go services find each other in one cluster.
//!
//! Each node is one key, `/micro/registry/<service>/<node-id>` (`/` in either part becomes `-`),
//! whose value is the JSON of the service with just that node. A node registered with a TTL is
//! attached to a lease of that many seconds, kept alive on one long-lived KeepAlive stream; when
//! the process dies the lease runs out and the key goes with it.
//!
//! ```no_run
//! use std::sync::Arc;
//! use micro_runtime::registry::{EtcdOptions, EtcdRegistry, Registry};
//!
//! # async fn run() -> Result<(), micro_runtime::LocalError> {
//! let members = vec!["10.0.0.1:2379".into(), "10.0.0.2:2379".into()];
//! let registry = EtcdRegistry::new(EtcdOptions::default().endpoints(members))?;
//! let greeters = registry.get_service("greeter").await?;
//! let shared: Arc<dyn Registry> = Arc::new(registry);
//! # Ok(()) }
//! ```
//!
//! ## Layout
//! - `options`: [`EtcdOptions`] and endpoint parsing.
//! - `key`: the key layout and the JSON records.
//! - `pb`, `client`: the etcd v3 gRPC API, generated at build time from our own minimal protos in
//!   `proto/etcd/`, and the calls the registry makes with it (tonic; no protoc needed by users).
//! - `auth`: the user's token, sent with every call and renewed when it expires.
//! - `connection`: the lazily dialled client; timeouts and retries on other members.
//! - `lease`: what this registry wrote, leases and their keepalive streams.
//! - `watch`: etcd watches turned into registry events.

mod auth;
mod client;
mod connection;
mod key;
mod lease;
mod options;
mod pb;
mod watch;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::{BoxFuture, Registry, ServiceRecord, Watcher};
use crate::{LocalError, LocalErrorKind};
use connection::Connection;
use lease::Leases;
pub use options::EtcdOptions;

/// A [`Registry`] kept in etcd. Clones share one connection and one set of leases.
///
/// Nothing touches the network until the first operation, which dials within
/// [`EtcdOptions::dial_timeout`]; each operation then takes at most [`EtcdOptions::timeout`],
/// retrying on another member when one is down. After a failure the next operation dials again.
///
/// Dropping the last clone stops every keepalive without deleting anything, so the nodes it
/// registered with a TTL expire as if the process had died; deregister them to remove them at once.
#[derive(Clone)]
pub struct EtcdRegistry {
    inner: Arc<Inner>,
}

struct Inner {
    connection: Connection,
    leases: Leases,
}

impl fmt::Debug for EtcdRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // EtcdOptions' Debug redacts the password.
        f.debug_struct("EtcdRegistry")
            .field("options", self.inner.connection.options())
            .finish_non_exhaustive()
    }
}

impl EtcdRegistry {
    /// A registry on the cluster `options` describes. Checks the options (a `Config` error for no
    /// endpoints or an ill-formed one) but does not connect yet.
    pub fn new(options: EtcdOptions) -> Result<Self, LocalError> {
        let urls = options.validate()?;
        Ok(Self {
            inner: Arc::new(Inner {
                connection: Connection::new(options, urls)?,
                leases: Leases::default(),
            }),
        })
    }

    fn connection(&self) -> &Connection {
        &self.inner.connection
    }

    /// Every decoded record under `prefix`; malformed ones are logged and skipped.
    async fn records(&self, prefix: String, what: &str) -> Result<Vec<ServiceRecord>, LocalError> {
        let kvs = self
            .connection()
            .run(what, |client| {
                let prefix = prefix.clone();
                // Linearizable, unlike go-micro's serializable read: a read right after a
                // register on another member must see it.
                async move { client.range_prefix(prefix.as_bytes()).await }
            })
            .await?;
        Ok(kvs
            .iter()
            .filter_map(|kv| key::decode(&kv.key, &kv.value))
            .collect())
    }
}

fn needs_nodes(service: &ServiceRecord) -> Result<(), LocalError> {
    // As go-micro: a record is stored per node, so a service without nodes has nothing to store.
    if service.nodes.is_empty() {
        return Err(LocalError::new(
            LocalErrorKind::Config,
            format!("etcd registry: service {:?} has no nodes", service.name),
        ));
    }
    Ok(())
}

impl Registry for EtcdRegistry {
    fn register<'a>(
        &'a self,
        service: &'a ServiceRecord,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), LocalError>> {
        Box::pin(async move {
            needs_nodes(service)?;
            // Every node is tried; the first failure is reported.
            let mut result = Ok(());
            for node in &service.nodes {
                let key = key::node_key(&service.name, &node.id);
                let value = key::encode(service, node);
                let written = self
                    .inner
                    .leases
                    .register(self.connection(), &key, value, ttl)
                    .await;
                result = result.and(written);
            }
            result
        })
    }

    fn deregister<'a>(
        &'a self,
        service: &'a ServiceRecord,
    ) -> BoxFuture<'a, Result<(), LocalError>> {
        Box::pin(async move {
            needs_nodes(service)?;
            let mut result = Ok(());
            for node in &service.nodes {
                let key = key::node_key(&service.name, &node.id);
                let deleted = self.inner.leases.deregister(self.connection(), &key).await;
                result = result.and(deleted);
            }
            result
        })
    }

    fn get_service<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ServiceRecord>, LocalError>> {
        Box::pin(async move {
            let records = self
                .records(key::service_prefix(name), "reading a service")
                .await?;
            // Escaping `/` to `-` lets different names share a prefix; the decoded name decides.
            Ok(key::merge(records.into_iter().filter(|s| s.name == name)))
        })
    }

    fn list_services(&self) -> BoxFuture<'_, Result<Vec<ServiceRecord>, LocalError>> {
        Box::pin(async move {
            let records = self
                .records(key::PREFIX.to_string(), "listing services")
                .await?;
            Ok(key::merge(records))
        })
    }

    fn watch<'a>(&'a self, service: Option<&'a str>) -> BoxFuture<'a, Result<Watcher, LocalError>> {
        Box::pin(watch::watch(self.connection(), service))
    }

    fn name(&self) -> &'static str {
        "etcd"
    }
}
