//! [`MemoryRegistry`]: an in-process registry, for tests and single-process setups.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

use super::watchers::Watchers;
use super::{Action, BoxFuture, Event, Node, Registry, ServiceRecord, Watcher};
use crate::LocalError;

// How often expired nodes are swept and announced, as go-micro's memory registry.
const PRUNE_INTERVAL: Duration = Duration::from_secs(1);

/// An in-process [`Registry`]. Clones share the same records.
///
/// Nodes registered with a TTL expire: they disappear from reads the moment the TTL passes, and a
/// background sweep (started by the first TTL registration, every second, as go-micro's) announces
/// them to watchers with [`Action::Delete`]. Time is `tokio::time`, so `tokio::time::pause()` drives it.
///
/// ```
/// use micro_runtime::registry::{MemoryRegistry, Node, Registry, ServiceRecord};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let registry = MemoryRegistry::new();
/// let service = ServiceRecord {
///     name: "greeter".into(),
///     version: "latest".into(),
///     nodes: vec![Node { id: "greeter-1".into(), address: "127.0.0.1:9000".into(), ..Node::default() }],
///     ..ServiceRecord::default()
/// };
/// registry.register(&service, None).await.unwrap();
/// assert_eq!(registry.get_service("greeter").await.unwrap(), vec![service]);
/// # });
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryRegistry {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    state: Mutex<State>,
    pruner_started: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    // name → version → record; BTreeMaps so listings come out sorted.
    services: BTreeMap<String, BTreeMap<String, Record>>,
    watchers: Watchers,
    // What `get_service_shared` handed out, per name; cleared on every change. Calls look their
    // service up each time, and sharing one snapshot saves a deep copy of it per call.
    snapshots: HashMap<String, Arc<[ServiceRecord]>>,
}

#[derive(Debug)]
struct Record {
    // The service without its nodes.
    service: ServiceRecord,
    // In registration order, so reads are stable.
    nodes: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    node: Node,
    expires: Option<Instant>,
}

impl MemoryRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a harmful way.
        let mut state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        state.prune(Instant::now());
        state
    }

    fn start_pruner(&self) {
        if self.inner.pruner_started.swap(true, Ordering::Relaxed) {
            return;
        }
        // Holds only a Weak, so the task ends once every clone of the registry is dropped.
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(PRUNE_INTERVAL);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                let mut state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
                state.prune(Instant::now());
            }
        });
    }

    fn register_now(&self, service: &ServiceRecord, ttl: Option<Duration>) {
        let expires = ttl.filter(|t| !t.is_zero()).map(|t| Instant::now() + t);
        let mut state = self.lock();
        state.snapshots.clear();
        let record = state
            .services
            .entry(service.name.clone())
            .or_default()
            .entry(service.version.clone())
            .or_insert_with(|| Record {
                service: without_nodes(service),
                nodes: Vec::new(),
            });
        // A redeployed version with new endpoints or metadata changes every node it carries.
        let service_changed = record.service.endpoints != service.endpoints
            || record.service.metadata != service.metadata;
        if service_changed {
            record.service = without_nodes(service);
        }
        let (mut created, mut updated) = (Vec::new(), Vec::new());
        for node in &service.nodes {
            match record.nodes.iter_mut().find(|e| e.node.id == node.id) {
                Some(entry) => {
                    if entry.node != *node || service_changed {
                        entry.node = node.clone();
                        updated.push(node.clone());
                    }
                    entry.expires = expires;
                }
                None => {
                    record.nodes.push(Entry {
                        node: node.clone(),
                        expires,
                    });
                    created.push(node.clone());
                }
            }
        }
        // go-micro's memory registry says "update" for everything; we distinguish new nodes.
        state.emit(service, Action::Create, created);
        state.emit(service, Action::Update, updated);
    }

    fn deregister_now(&self, service: &ServiceRecord) {
        let mut state = self.lock();
        state.snapshots.clear();
        let Some(versions) = state.services.get_mut(&service.name) else {
            return;
        };
        let Some(record) = versions.get_mut(&service.version) else {
            return;
        };
        let mut removed = Vec::new();
        record.nodes.retain(|e| {
            let gone = service.nodes.iter().any(|n| n.id == e.node.id);
            if gone {
                removed.push(e.node.clone());
            }
            !gone
        });
        let template = record.service.clone();
        if record.nodes.is_empty() {
            versions.remove(&service.version);
            if versions.is_empty() {
                state.services.remove(&service.name);
            }
        }
        state.emit(&template, Action::Delete, removed);
    }

    fn get_shared_now(&self, name: &str) -> Arc<[ServiceRecord]> {
        let mut state = self.lock();
        if let Some(snapshot) = state.snapshots.get(name) {
            return Arc::clone(snapshot);
        }
        let snapshot: Arc<[ServiceRecord]> = state
            .services
            .get(name)
            .map(|versions| versions.values().map(Record::to_service).collect())
            .unwrap_or_default();
        state
            .snapshots
            .insert(name.to_string(), Arc::clone(&snapshot));
        snapshot
    }

    fn get_now(&self, name: &str) -> Vec<ServiceRecord> {
        let state = self.lock();
        state
            .services
            .get(name)
            .map(|versions| versions.values().map(Record::to_service).collect())
            .unwrap_or_default()
    }

    fn list_now(&self) -> Vec<ServiceRecord> {
        let state = self.lock();
        state
            .services
            .values()
            .flat_map(|versions| versions.values().map(Record::to_service))
            .collect()
    }

    fn watch_now(&self, service: Option<&str>) -> Watcher {
        self.lock().watchers.subscribe(service)
    }
}

impl Registry for MemoryRegistry {
    fn register<'a>(
        &'a self,
        service: &'a ServiceRecord,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), LocalError>> {
        Box::pin(async move {
            if ttl.is_some_and(|t| !t.is_zero()) {
                self.start_pruner();
            }
            self.register_now(service, ttl);
            Ok(())
        })
    }

    fn deregister<'a>(
        &'a self,
        service: &'a ServiceRecord,
    ) -> BoxFuture<'a, Result<(), LocalError>> {
        Box::pin(async move {
            self.deregister_now(service);
            Ok(())
        })
    }

    fn get_service<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ServiceRecord>, LocalError>> {
        Box::pin(async move { Ok(self.get_now(name)) })
    }

    fn get_service_shared<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Arc<[ServiceRecord]>, LocalError>> {
        Box::pin(async move { Ok(self.get_shared_now(name)) })
    }

    fn list_services(&self) -> BoxFuture<'_, Result<Vec<ServiceRecord>, LocalError>> {
        Box::pin(async move { Ok(self.list_now()) })
    }

    fn watch<'a>(&'a self, service: Option<&'a str>) -> BoxFuture<'a, Result<Watcher, LocalError>> {
        Box::pin(async move { Ok(self.watch_now(service)) })
    }

    fn needs_cache(&self) -> bool {
        false
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}

impl Record {
    fn to_service(&self) -> ServiceRecord {
        ServiceRecord {
            nodes: self.nodes.iter().map(|e| e.node.clone()).collect(),
            ..self.service.clone()
        }
    }
}

impl State {
    // Removes expired nodes (and records left empty), announcing them. Every read and write calls
    // this first, so expiry is exact whether or not the background sweep has run yet.
    fn prune(&mut self, now: Instant) {
        let mut expired = Vec::new();
        for versions in self.services.values_mut() {
            versions.retain(|_, record| {
                let before = record.nodes.len();
                let mut gone = Vec::new();
                record.nodes.retain(|e| {
                    let alive = e.expires.is_none_or(|at| at > now);
                    if !alive {
                        gone.push(e.node.clone());
                    }
                    alive
                });
                if !gone.is_empty() {
                    expired.push((record.service.clone(), gone));
                }
                // Only records that just lost their last node go; an explicitly empty one stays.
                before == 0 || !record.nodes.is_empty()
            });
        }
        self.services.retain(|_, versions| !versions.is_empty());
        if !expired.is_empty() {
            self.snapshots.clear();
        }
        for (service, nodes) in expired {
            self.emit(&service, Action::Delete, nodes);
        }
    }

    // Sends without waiting: a slow watcher misses events, a dropped one is forgotten, and neither
    // ever blocks or fails the registry.
    fn emit(&mut self, service: &ServiceRecord, action: Action, nodes: Vec<Node>) {
        if nodes.is_empty() {
            return;
        }
        let event = Event {
            action,
            service: ServiceRecord {
                nodes,
                ..without_nodes(service)
            },
        };
        self.watchers.send(&event);
    }
}

fn without_nodes(service: &ServiceRecord) -> ServiceRecord {
    ServiceRecord {
        name: service.name.clone(),
        version: service.version.clone(),
        metadata: service.metadata.clone(),
        endpoints: service.endpoints.clone(),
        nodes: Vec::new(),
    }
}
