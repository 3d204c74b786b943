//! [`LeastLoaded`]: the node with the fewest calls in flight from this client goes first.
//!
//! A slow node accumulates calls in flight, so it is offered later while it is slow; ties are
//! broken at random, so idle nodes share the load. The counts are this client's only (no node
//! reports its load), which is what a client can know without asking anyone.

use std::collections::HashMap;
use std::sync::Mutex;

use micro_runtime::registry::Node;
use micro_runtime::selector::{Candidates, Outcome, Strategy};

/// The fewest calls in flight first; see the [module docs](self).
#[derive(Debug, Default)]
pub struct LeastLoaded {
    // Node id → calls in flight to it from this client.
    in_flight: Mutex<HashMap<String, usize>>,
}

impl LeastLoaded {
    /// A strategy with nothing in flight.
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls in flight to `node` now.
    pub fn in_flight(&self, node: &str) -> usize {
        let counts = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        counts.get(node).copied().unwrap_or(0)
    }
}

impl Strategy for LeastLoaded {
    fn arrange(&self, _service: &str, candidates: &mut Candidates<'_>) {
        // Shuffled first: the sort is stable, so equal loads keep a random order.
        candidates.shuffle();
        let counts = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        candidates.sort_by_key(|node| counts.get(&node.id).copied().unwrap_or(0));
    }

    fn started(&self, node: &Node) {
        let mut counts = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry(node.id.clone()).or_default() += 1;
    }

    fn finished(&self, node: &Node, _outcome: Outcome) {
        let mut counts = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&node.id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&node.id);
            }
        }
    }
}
