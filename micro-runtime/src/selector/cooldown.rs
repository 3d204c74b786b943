//! [`Cooldown`]: nodes that just failed, tried last for a while.
//!
//! A node that refused a connection or timed out is most likely dead or overloaded, and the
//! registry may take its TTL to notice. go-micro keeps offering such a node (its selector's `Mark`
//! is a no-op), so calls keep hitting it. Ours puts it at the back of every selection until the
//! cool-down ends: calls go to healthy nodes, and the failed node is still tried when nothing else
//! is left, so a cool-down never makes a service unreachable.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Node ids that failed recently, and until when they are avoided.
#[derive(Debug)]
pub(crate) struct Cooldown {
    period: Duration,
    until: Mutex<HashMap<String, Instant>>,
    // Lets a selection skip the lock when no node is cooling, the usual case.
    any: AtomicBool,
}

impl Cooldown {
    pub(crate) fn new(period: Duration) -> Self {
        Self {
            period,
            until: Mutex::default(),
            any: AtomicBool::new(false),
        }
    }

    /// Avoids `node_id` for the cool-down period from now.
    pub(crate) fn mark(&self, node_id: &str) {
        if self.period.is_zero() {
            return;
        }
        let mut until = self.lock();
        until.insert(node_id.to_string(), Instant::now() + self.period);
        self.any.store(true, Ordering::Release);
    }

    /// Moves the cooling nodes of `order` to its back, keeping the order within each group.
    pub(crate) fn demote<'a, T>(&self, order: &mut Vec<T>, id: impl Fn(&T) -> &'a str) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        let now = Instant::now();
        let mut until = self.lock();
        until.retain(|_, end| *end > now);
        if until.is_empty() {
            self.any.store(false, Ordering::Release);
            return;
        }
        let (mut healthy, cooling): (Vec<T>, Vec<T>) = order
            .drain(..)
            .partition(|item| !until.contains_key(id(item)));
        healthy.extend(cooling);
        *order = healthy;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.until.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn cooling_nodes_go_last_until_the_period_ends() {
        let cooldown = Cooldown::new(Duration::from_secs(5));
        let mut order = vec!["a", "b", "c"];
        cooldown.mark("a");
        cooldown.demote(&mut order, |id| id);
        assert_eq!(order, ["b", "c", "a"]);

        tokio::time::advance(Duration::from_secs(6)).await;
        let mut order = vec!["a", "b", "c"];
        cooldown.demote(&mut order, |id| id);
        assert_eq!(order, ["a", "b", "c"]);
        assert!(!cooldown.any.load(Ordering::Acquire));
    }

    #[tokio::test(start_paused = true)]
    async fn zero_period_turns_it_off() {
        let cooldown = Cooldown::new(Duration::ZERO);
        cooldown.mark("a");
        let mut order = vec!["a", "b"];
        cooldown.demote(&mut order, |id| id);
        assert_eq!(order, ["a", "b"]);
    }
}
