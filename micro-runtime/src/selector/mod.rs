//! Picking the node a call goes to.
//!
//! [`Selector::select`] looks the service up in the registry, applies [`Filter`]s and returns a
//! [`Next`]: an iterator over the remaining nodes in [`Strategy`] order, each at most once, so a
//! retry naturally takes another node (volo's picker shape). go-micro's selector has no such
//! memory: a retry there can hit the same dead node again.
//!
//! Lookups go through a cache kept fresh by a registry watch (`registry/cache.rs`), and a node that just
//! refused a connection or timed out is offered last for a cool-down (`cooldown.rs`).
//!
//! - [`strategy`]: the [`Strategy`] trait, [`Random`] and [`RoundRobin`]; other crates add theirs.
//! - [`filter`]: [`Filter`]s by version, label, endpoint or a closure.
//!
//! ```
//! use std::sync::Arc;
//! use micro_runtime::registry::{MemoryRegistry, Node, Registry, ServiceRecord};
//! use micro_runtime::selector::{Random, Selector};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let registry = Arc::new(MemoryRegistry::new());
//! let nodes = ["a", "b"].map(|id| Node { id: id.into(), address: format!("{id}:1"), ..Node::default() });
//! let service = ServiceRecord { name: "greeter".into(), nodes: nodes.to_vec(), ..ServiceRecord::default() };
//! registry.register(&service, None).await.unwrap();
//!
//! let selector = Selector::new(registry, Arc::new(Random));
//! let mut next = selector.select("greeter", &[]).await.unwrap();
//! let first = next.next().unwrap();
//! let retry = next.next().unwrap();
//! assert_ne!(first.id, retry.id);
//! assert!(next.next().is_none());
//! # });
//! ```

mod cooldown;
pub mod filter;
pub mod strategy;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

pub use filter::Filter;
pub use strategy::{Candidates, Outcome, Random, RoundRobin, Strategy};

use crate::Error;
use crate::error::CLIENT_ID;
use crate::registry::{Cache, Node, Registry, ServiceRecord};

pub(crate) use self::cooldown::Cooldown;

pub use crate::registry::DEFAULT_CACHE_TTL;
/// How long a node that refused a connection or timed out is offered last.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(5);

/// Chooses nodes for calls from a registry.
///
/// Cheap to clone; clones share the cache, the cool-downs and the round-robin position.
#[derive(Clone, Debug)]
pub struct Selector {
    registry: Arc<dyn Registry>,
    // None for registries that answer from memory (see `Registry::needs_cache`).
    cache: Option<Cache>,
    cooldown: Arc<Cooldown>,
    strategy: Arc<dyn Strategy>,
}

impl Selector {
    /// A selector over `registry` using `strategy`, with the default cache TTL and cool-down.
    pub fn new(registry: Arc<dyn Registry>, strategy: Arc<dyn Strategy>) -> Self {
        let cache = registry
            .needs_cache()
            .then(|| Cache::new(Arc::clone(&registry), DEFAULT_CACHE_TTL));
        Self {
            registry,
            cache,
            cooldown: Arc::new(Cooldown::new(DEFAULT_COOLDOWN)),
            strategy,
        }
    }

    /// How long a cached lookup serves before it is fetched again; zero turns the cache off, so
    /// every call asks the registry.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache = (self.registry.needs_cache() && !ttl.is_zero())
            .then(|| Cache::new(Arc::clone(&self.registry), ttl));
        self
    }

    /// How long a node that refused a connection or timed out is offered last (zero: never).
    pub fn cooldown(mut self, period: Duration) -> Self {
        self.cooldown = Arc::new(Cooldown::new(period));
        self
    }

    /// Reports that `node` refused a connection or timed out: later selections offer it last
    /// until the cool-down ends.
    pub fn mark_failed(&self, node: &Node) {
        tracing::debug!(node = %node.id, address = %node.address, "node failed; cooling it down");
        self.cooldown.mark(&node.id);
    }

    /// The registry nodes come from.
    pub fn registry(&self) -> &Arc<dyn Registry> {
        &self.registry
    }

    /// The strategy in use.
    pub fn strategy(&self) -> &Arc<dyn Strategy> {
        &self.strategy
    }

    /// The nodes of `service` that pass every filter, in strategy order.
    ///
    /// Errors are wire errors from `go.micro.client`: 404 when the registry does not know the
    /// service, 503 when filters leave no node, 500 when the registry fails. (go-micro's client
    /// turns all three into 500s; we keep them apart so callers can tell them apart.)
    pub async fn select(&self, service: &str, filters: &[Filter]) -> Result<Next, Error> {
        let looked_up = match &self.cache {
            Some(cache) => cache.get(service).await,
            None => self.registry.get_service_shared(service).await,
        };
        let mut services = looked_up.map_err(|err| {
            Error::internal_server_error(format!("error getting service {service}: {err}"))
                .with_id(CLIENT_ID)
        })?;
        if services.is_empty() {
            return Err(
                Error::not_found(format!("service {service}: not found")).with_id(CLIENT_ID)
            );
        }
        if !filters.is_empty() {
            let mut filtered = services.to_vec();
            for filter in filters {
                filtered = filter.apply(filtered);
            }
            services = filtered.into();
        }
        // Flattened over versions (as go-micro's strategies do), each node id once. Positions, not
        // copies: only the nodes a call actually tries are cloned.
        let mut seen = HashSet::new();
        let mut order: Vec<(usize, usize)> = Vec::new();
        for (s, record) in services.iter().enumerate() {
            for (n, node) in record.nodes.iter().enumerate() {
                if seen.insert(node.id.as_str()) {
                    order.push((s, n));
                }
            }
        }
        if order.is_empty() {
            return Err(Error::unavailable(format!(
                "error selecting {service} node: none available"
            ))
            .with_id(CLIENT_ID));
        }
        self.strategy
            .arrange(service, &mut Candidates::new(&services, &mut order));
        self.cooldown
            .demote(&mut order, |&(s, n)| services[s].nodes[n].id.as_str());
        Ok(Next {
            services: Arc::clone(&services),
            order: order.into_iter(),
        })
    }
}

/// The nodes one selection may use, in strategy order, each at most once.
///
/// Take one per attempt: a retry gets a node it has not tried yet.
#[derive(Clone, Debug)]
pub struct Next {
    services: Arc<[ServiceRecord]>,
    // (service, node) positions in `services`, in strategy order.
    order: std::vec::IntoIter<(usize, usize)>,
}

impl Next {
    /// How many nodes are left.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether every node has been handed out.
    pub fn is_empty(&self) -> bool {
        self.order.len() == 0
    }

    /// The nodes not yet handed out, in order.
    pub fn remaining(&self) -> impl Iterator<Item = &Node> + '_ {
        self.order
            .as_slice()
            .iter()
            .map(|&(s, n)| &self.services[s].nodes[n])
    }
}

impl Next {
    /// The next node, shared with the selection rather than copied (its metadata map included):
    /// what the client takes per attempt.
    pub(crate) fn next_shared(&mut self) -> Option<NodeRef> {
        let (service, node) = self.order.next()?;
        Some(NodeRef {
            services: Arc::clone(&self.services),
            service,
            node,
        })
    }
}

/// One node of a selection, shared with it: cloning it copies a pointer, not the node.
#[derive(Clone)]
pub struct NodeRef {
    services: Arc<[ServiceRecord]>,
    service: usize,
    node: usize,
}

impl NodeRef {
    /// A node of its own (the call's explicit addresses).
    pub(crate) fn owned(node: Node) -> Self {
        let record = ServiceRecord {
            nodes: vec![node],
            ..ServiceRecord::default()
        };
        Self {
            services: Arc::from(vec![record]),
            service: 0,
            node: 0,
        }
    }
}

impl std::ops::Deref for NodeRef {
    type Target = Node;

    fn deref(&self) -> &Node {
        &self.services[self.service].nodes[self.node]
    }
}

impl std::fmt::Debug for NodeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl Iterator for Next {
    type Item = Node;

    fn next(&mut self) -> Option<Node> {
        let (s, n) = self.order.next()?;
        Some(self.services[s].nodes[n].clone())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.order.size_hint()
    }
}

impl ExactSizeIterator for Next {}
