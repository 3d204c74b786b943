//! [`Strategy`]: the order in which a selection offers its nodes, and what it learns from calls.
//!
//! Built in: [`Random`] (go-micro's default) and [`RoundRobin`]. Another crate adds its own
//! (least-loaded, consistent hashing, latency-aware) by implementing the trait: it reorders the
//! [`Candidates`] of one selection, and may count the attempts the client reports.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use crate::registry::{Node, ServiceRecord};

/// How a [`Selector`](super::Selector) orders the nodes of one selection.
///
/// Whatever the order, a selection yields every node at most once, so retries move on to another
/// node; nodes in their cool-down after a failure are moved last after the strategy ran.
pub trait Strategy: Send + Sync + fmt::Debug + 'static {
    /// Orders the candidates of one call to `service`, the first to be tried first.
    fn arrange(&self, service: &str, candidates: &mut Candidates<'_>);

    /// The client is about to try `node` (a unary call's attempt, or opening a stream).
    fn started(&self, node: &Node) {
        let _ = node;
    }

    /// The attempt on `node` that [`started`](Self::started) has ended.
    fn finished(&self, node: &Node, outcome: Outcome) {
        let _ = (node, outcome);
    }
}

impl<S: Strategy + ?Sized> Strategy for std::sync::Arc<S> {
    fn arrange(&self, service: &str, candidates: &mut Candidates<'_>) {
        (**self).arrange(service, candidates);
    }

    fn started(&self, node: &Node) {
        (**self).started(node);
    }

    fn finished(&self, node: &Node, outcome: Outcome) {
        (**self).finished(node, outcome);
    }
}

/// How an attempt on a node ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The node answered: a reply or an application error.
    Answered,
    /// The node could not be reached, timed out, or broke the connection.
    Failed,
}

/// The nodes of one selection, for a [`Strategy`] to put in order.
pub struct Candidates<'a> {
    services: &'a [ServiceRecord],
    order: &'a mut [(usize, usize)],
}

impl<'a> Candidates<'a> {
    pub(crate) fn new(services: &'a [ServiceRecord], order: &'a mut [(usize, usize)]) -> Self {
        Self { services, order }
    }

    /// How many nodes there are.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The node at position `i`.
    pub fn node(&self, i: usize) -> &'a Node {
        let (s, n) = self.order[i];
        &self.services[s].nodes[n]
    }

    /// The service record (name, version, endpoints) the node at position `i` belongs to.
    pub fn service(&self, i: usize) -> &'a ServiceRecord {
        &self.services[self.order[i].0]
    }

    /// Swaps two positions.
    pub fn swap(&mut self, i: usize, j: usize) {
        self.order.swap(i, j);
    }

    /// A random order.
    pub fn shuffle(&mut self) {
        fastrand::shuffle(self.order);
    }

    /// Sorts by a key of each node (stable).
    pub fn sort_by_key<K: Ord>(&mut self, mut key: impl FnMut(&Node) -> K) {
        let services = self.services;
        self.order.sort_by_key(|&(s, n)| key(&services[s].nodes[n]));
    }

    /// Moves the first `mid` nodes to the end.
    pub fn rotate_left(&mut self, mid: usize) {
        if !self.order.is_empty() {
            let mid = mid % self.order.len();
            self.order.rotate_left(mid);
        }
    }
}

impl fmt::Debug for Candidates<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries((0..self.len()).map(|i| &self.node(i).id))
            .finish()
    }
}

/// A fresh random order per selection; go-micro's default.
#[derive(Clone, Copy, Debug, Default)]
pub struct Random;

impl Strategy for Random {
    fn arrange(&self, _service: &str, candidates: &mut Candidates<'_>) {
        candidates.shuffle();
    }
}

/// The nodes in id order, rotated one further on each selection of the same service.
///
/// go-micro starts at a random node on every `Select` (once per call), so its round robin only
/// holds across one call's retries; this one holds across calls, deliberately.
#[derive(Debug, Default)]
pub struct RoundRobin {
    // Per service: how many selections have been made.
    turns: Mutex<HashMap<String, usize>>,
}

impl RoundRobin {
    /// A round robin with no turns taken yet.
    pub fn new() -> Self {
        Self::default()
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

impl Strategy for RoundRobin {
    fn arrange(&self, service: &str, candidates: &mut Candidates<'_>) {
        // Sorting makes the rotation independent of the order the registry returns.
        candidates.sort_by_key(|node| node.id.clone());
        candidates.rotate_left(self.take_turn(service));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ids: &[&str]) -> Vec<ServiceRecord> {
        let nodes = ids
            .iter()
            .map(|id| Node {
                id: id.to_string(),
                ..Node::default()
            })
            .collect();
        vec![ServiceRecord {
            nodes,
            ..ServiceRecord::default()
        }]
    }

    #[test]
    fn round_robin_rotates_sorted_nodes() {
        let services = record(&["c", "a", "b"]);
        let robin = RoundRobin::new();
        let first = robin.take_turn("s");
        let mut order = vec![(0, 0), (0, 1), (0, 2)];
        let mut candidates = Candidates::new(&services, &mut order);
        robin.arrange("s", &mut candidates);
        let ids: Vec<&str> = (0..3).map(|i| candidates.node(i).id.as_str()).collect();
        let sorted = ["a", "b", "c"];
        let expect: Vec<&str> = (0..3).map(|i| sorted[(first + 1 + i) % 3]).collect();
        assert_eq!(ids, expect);
        let mut empty: Vec<(usize, usize)> = Vec::new();
        robin.arrange("s", &mut Candidates::new(&services, &mut empty));
    }
}
