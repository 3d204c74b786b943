//! Picking the node a call goes to.
//!
//! [`Selector::select`] looks the service up in the registry, applies [`Filter`]s and returns a
//! [`Next`]: an iterator over the remaining nodes in [`Strategy`] order, each at most once, so a
//! retry naturally takes another node (volo's picker shape). go-micro's selector has no such
//! memory: a retry there can hit the same dead node again.
//!
//! - [`strategy`]: [`Strategy::Random`] and [`Strategy::RoundRobin`].
//! - [`filter`]: [`Filter`]s by version, label, endpoint or a closure.
//!
//! ```
//! use std::sync::Arc;
//! use micro_runtime::registry::{MemoryRegistry, Node, Registry, Service};
//! use micro_runtime::selector::{Selector, Strategy};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let registry = Arc::new(MemoryRegistry::new());
//! let nodes = ["a", "b"].map(|id| Node { id: id.into(), address: format!("{id}:1"), ..Node::default() });
//! let service = Service { name: "greeter".into(), nodes: nodes.to_vec(), ..Service::default() };
//! registry.register(&service, None).await.unwrap();
//!
//! let selector = Selector::new(registry, Strategy::Random);
//! let mut next = selector.select("greeter", &[]).await.unwrap();
//! let first = next.next().unwrap();
//! let retry = next.next().unwrap();
//! assert_ne!(first.id, retry.id);
//! assert!(next.next().is_none());
//! # });
//! ```

pub mod filter;
pub mod strategy;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

pub use filter::Filter;
pub use strategy::Strategy;

use crate::Error;
use crate::error::CLIENT_ID;
use crate::registry::{Node, Registry, Service};

/// Chooses nodes for calls from a registry.
///
/// Cheap to clone; clones share the round-robin position.
#[derive(Clone, Debug)]
pub struct Selector {
    registry: Arc<dyn Registry>,
    strategy: Strategy,
    // Per service: how many selections round robin has made.
    turns: Arc<Mutex<HashMap<String, usize>>>,
}

impl Selector {
    /// A selector over `registry` using `strategy`.
    pub fn new(registry: Arc<dyn Registry>, strategy: Strategy) -> Self {
        Self {
            registry,
            strategy,
            turns: Arc::default(),
        }
    }

    /// The registry nodes come from.
    pub fn registry(&self) -> &Arc<dyn Registry> {
        &self.registry
    }

    /// The strategy in use.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The nodes of `service` that pass every filter, in strategy order.
    ///
    /// Errors are wire errors from `go.micro.client`: 404 when the registry does not know the
    /// service, 503 when filters leave no node, 500 when the registry fails. (go-micro's client
    /// turns all three into 500s; we keep them apart so callers can tell them apart.)
    pub async fn select(&self, service: &str, filters: &[Filter]) -> Result<Next, Error> {
        let mut services = self
            .registry
            .get_service_shared(service)
            .await
            .map_err(|err| {
                Error::internal_server_error(
                    CLIENT_ID,
                    format!("error getting service {service}: {err}"),
                )
            })?;
        if services.is_empty() {
            return Err(Error::not_found(
                CLIENT_ID,
                format!("service {service}: not found"),
            ));
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
            return Err(Error::unavailable(
                CLIENT_ID,
                format!("error selecting {service} node: none available"),
            ));
        }
        let turn = match self.strategy {
            Strategy::Random => 0,
            Strategy::RoundRobin => self.take_turn(service),
        };
        self.strategy
            .arrange(&mut order, |&(s, n)| services[s].nodes[n].id.as_str(), turn);
        Ok(Next {
            services: Arc::clone(&services),
            order: order.into_iter(),
        })
    }

    fn take_turn(&self, service: &str) -> usize {
        let mut turns = self.turns.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(turn) = turns.get_mut(service) {
            let current = *turn;
            *turn = current.wrapping_add(1);
            return current;
        }
        // A random first turn, so many clients starting together do not all pick one node.
        let first = fastrand::usize(..);
        turns.insert(service.to_string(), first.wrapping_add(1));
        first
    }
}

/// The nodes one selection may use, in strategy order, each at most once.
///
/// Take one per attempt: a retry gets a node it has not tried yet.
#[derive(Clone, Debug)]
pub struct Next {
    services: Arc<[Service]>,
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
