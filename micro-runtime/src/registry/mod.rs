//! Service discovery: go-micro's registry data model and the [`Registry`] trait.
//!
//! The records are go-micro's (`registry/registry.go`), field for field and in Go's JSON field
//! order, because they are stored as JSON in etcd and must round-trip with Go services: Go writes
//! `null` for unset maps and slices, so every collection here reads `null` as empty, and map keys
//! are written sorted, as Go's `encoding/json` writes them.
//!
//! - [`memory`]: [`MemoryRegistry`], an in-process registry for tests and single-process setups.
//! - `mdns` (feature `mdns`, on by default): `MdnsRegistry`, go-micro's default, multicast DNS on
//!   the local network, with go-micro's records.
//! - `etcd` (feature `etcd`): etcd v3, for clusters.
//! - [`config`]: [`registry_from_env`], the registry `MICRO_REGISTRY` names.
//! - [`fields_to_json`]: a request from `name=value` pairs, typed by an endpoint's schema.
//! - [`CachedRegistry`]: lookups of another registry answered from a copy kept fresh by a watch
//!   (go-micro's `registry/cache`), which clients use on their own.

mod cache;
mod cached;
pub mod config;
#[cfg(feature = "etcd")]
pub mod etcd;
mod fields;
#[cfg(feature = "mdns")]
pub mod mdns;
pub mod memory;
mod shape;
mod watchers;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tokio::sync::mpsc;

use crate::LocalError;

pub(crate) use cache::Cache;
pub use cached::{CachedRegistry, DEFAULT_CACHE_TTL};
pub use config::{registry_from_env, shared_memory_registry};
#[cfg(feature = "etcd")]
pub use etcd::{EtcdOptions, EtcdRegistry};
pub use fields::{FieldError, fields_to_json};
#[cfg(feature = "mdns")]
pub use mdns::{MdnsOptions, MdnsRegistry};
pub use memory::MemoryRegistry;
pub use shape::json_name;

/// A boxed, sendable future: what [`Registry`] methods return, so the trait stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One version of a service and the nodes running it (go-micro's `registry.Service`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRecord {
    /// The service name, e.g. `helloworld` or `go.micro.srv.greeter`.
    #[serde(default)]
    pub name: String,
    /// The version; go-micro's default is `latest`.
    #[serde(default)]
    pub version: String,
    /// Service-level metadata; go-micro servers leave it unset (`null`).
    #[serde(default, serialize_with = "sorted_opt")]
    pub metadata: Option<HashMap<String, String>>,
    /// The endpoints the service handles.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        serialize_with = "empty_as_null"
    )]
    pub endpoints: Vec<Endpoint>,
    /// The running instances.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        serialize_with = "empty_as_null"
    )]
    pub nodes: Vec<Node>,
}

/// One running instance of a service (go-micro's `registry.Node`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Node metadata: `protocol`, `transport`, `server`, `broker`, `registry` and user labels.
    // Go's field order (metadata first) is kept so our JSON matches Go's byte for byte.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        serialize_with = "sorted"
    )]
    pub metadata: HashMap<String, String>,
    /// Unique id, `<service>-<uuid>` for go-micro servers.
    #[serde(default)]
    pub id: String,
    /// `host:port` to dial.
    #[serde(default)]
    pub address: String,
}

/// An RPC endpoint a service handles (go-micro's `registry.Endpoint`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The request type.
    #[serde(default)]
    pub request: Option<Value>,
    /// The response type.
    #[serde(default)]
    pub response: Option<Value>,
    /// Endpoint metadata, e.g. `{"stream":"true"}` or `{"topic":..,"subscriber":"true"}`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        serialize_with = "sorted"
    )]
    pub metadata: HashMap<String, String>,
    /// `Type.Method`, e.g. `Greeter.Hello`.
    #[serde(default)]
    pub name: String,
}

/// A type description: a message and, recursively, its fields (go-micro's `registry.Value`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Value {
    /// The field name (or the type name at the top level).
    #[serde(default)]
    pub name: String,
    /// The type name, e.g. `string`, `int64`, `HelloRequest`, `[]string`.
    #[serde(default, rename = "type")]
    pub type_name: String,
    /// The fields of a message type.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        serialize_with = "empty_as_null"
    )]
    pub values: Vec<Value>,
}

// Go writes nil maps and slices as `null`.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

// An empty list as `null`, as Go writes a nil slice, so records are byte-identical to Go's.
pub(crate) fn empty_as_null<S: Serializer, T: Serialize>(
    list: &[T],
    s: S,
) -> Result<S::Ok, S::Error> {
    if list.is_empty() {
        s.serialize_none()
    } else {
        list.serialize(s)
    }
}

// Sorted keys, as Go writes maps, so the same record always serializes to the same bytes.
pub(crate) fn sorted<S: Serializer>(
    map: &HashMap<String, String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    map.iter().collect::<BTreeMap<_, _>>().serialize(s)
}

fn sorted_opt<S: Serializer>(
    map: &Option<HashMap<String, String>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match map {
        Some(map) => sorted(map, s),
        None => s.serialize_none(),
    }
}

/// A service registry: where servers announce their nodes and clients find them.
///
/// Object-safe, used as `Arc<dyn Registry>`; methods return [`BoxFuture`]s.
pub trait Registry: Send + Sync + fmt::Debug + 'static {
    /// Adds `service`'s nodes to its `(name, version)` record, or refreshes them.
    ///
    /// With a `ttl`, each node expires unless registered again within it; `None` (or zero) keeps
    /// nodes until they are deregistered.
    fn register<'a>(
        &'a self,
        service: &'a ServiceRecord,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), LocalError>>;

    /// Removes `service`'s nodes from its `(name, version)` record; the record goes with its last node.
    fn deregister<'a>(
        &'a self,
        service: &'a ServiceRecord,
    ) -> BoxFuture<'a, Result<(), LocalError>>;

    /// Every version of the named service, one [`ServiceRecord`] each; empty when the name is unknown.
    fn get_service<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ServiceRecord>, LocalError>>;

    /// [`get_service`](Self::get_service) as a shared snapshot. The selector asks on every call,
    /// so a registry that holds its records in memory should override this to hand out one copy
    /// until something changes, rather than a deep copy per call.
    fn get_service_shared<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Arc<[ServiceRecord]>, LocalError>> {
        Box::pin(async move { self.get_service(name).await.map(Arc::from) })
    }

    /// Every service, sorted by name then version.
    fn list_services(&self) -> BoxFuture<'_, Result<Vec<ServiceRecord>, LocalError>>;

    /// Watches changes to one service, or to all when `service` is `None`.
    fn watch<'a>(&'a self, service: Option<&'a str>) -> BoxFuture<'a, Result<Watcher, LocalError>>;

    /// Whether clients should cache lookups (and keep the copy fresh with [`watch`](Self::watch)).
    /// True unless lookups are answered from this process's memory, always current and as cheap as
    /// a cache hit, as [`MemoryRegistry`]'s are.
    fn needs_cache(&self) -> bool {
        true
    }

    /// The registry's name (`memory`, `mdns`, `etcd`), which servers put in node metadata `registry`.
    fn name(&self) -> &'static str;
}

/// What happened to the nodes in an [`Event`]. Serialized as go-micro's strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The nodes appeared.
    Create,
    /// The nodes changed (address, metadata or the service's endpoints).
    Update,
    /// The nodes went away: deregistered or expired.
    Delete,
}

/// A change seen by a [`Watcher`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub action: Action,
    /// The service, carrying only the nodes that changed.
    pub service: ServiceRecord,
}

/// A stream of registry [`Event`]s. Dropping it stops the watch.
#[derive(Debug)]
pub struct Watcher {
    events: mpsc::Receiver<Event>,
}

impl Watcher {
    /// A watcher fed by `events`; registry backends keep the sender and drop it to end the watch.
    pub fn new(events: mpsc::Receiver<Event>) -> Self {
        Self { events }
    }

    /// The next event; `None` once the registry has stopped or gone away, or the watcher fell so
    /// far behind that events were lost (read the registry afresh and watch again).
    pub async fn next(&mut self) -> Option<Event> {
        self.events.recv().await
    }
}
