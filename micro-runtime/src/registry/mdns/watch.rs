//! What watchers are told: a cache of the nodes heard on the link, turned into events.
//!
//! Every response heard (announcements, answers to anyone's query, goodbyes) updates the cache: a
//! new node is [`Action::Create`], a changed TXT or address [`Action::Update`], a goodbye (TTL 0)
//! [`Action::Delete`]. A node nobody refreshes is asked for at 80% and 90% of its TTL, as RFC 6762
//! §5.2 says, and deleted when the TTL runs out, so a node that was killed goes away at its TTL.
//! (go-micro's watcher reports only create and delete, and never expires anything.)
//! The cache exists only while someone watches; a new watcher hears about changes from then on.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::entry::Found;
use crate::registry::watchers::Watchers;
use crate::registry::{Action, Event, ServiceRecord, Watcher};

// When to ask again, in thousandths of the TTL.
const REFRESH_AT: [u32; 2] = [800, 900];

/// Nodes heard, keyed by service name and node id, and the watchers to tell.
#[derive(Debug, Default)]
pub(super) struct Cache {
    nodes: HashMap<(String, String), Seen>,
    watchers: Watchers,
}

#[derive(Debug)]
struct Seen {
    found: Found,
    heard: Instant,
    // How many refresh queries went out since the node was last heard.
    asked: usize,
}

impl Cache {
    /// A new watcher of one service, or of all.
    pub(super) fn subscribe(&mut self, service: Option<&str>) -> Watcher {
        self.watchers.subscribe(service)
    }

    /// Whether anyone still watches; forgets the cache once nobody does.
    pub(super) fn active(&mut self) -> bool {
        let active = self.watchers.any_open();
        if !active {
            self.nodes.clear();
        }
        active
    }

    /// Takes in nodes from one response.
    pub(super) fn observe(&mut self, found: Vec<Found>, now: Instant) {
        for found in found {
            let key = (found.service.name.clone(), found.node.id.clone());
            if found.ttl == 0 {
                if let Some(gone) = self.nodes.remove(&key) {
                    self.emit(Action::Delete, gone.found);
                }
                continue;
            }
            let action = match self.nodes.get(&key) {
                None => Some(Action::Create),
                Some(seen)
                    if seen.found.node != found.node || seen.found.service != found.service =>
                {
                    Some(Action::Update)
                }
                Some(_) => None,
            };
            if let Some(action) = action {
                self.emit(action, found.clone());
            }
            self.nodes.insert(
                key,
                Seen {
                    found,
                    heard: now,
                    asked: 0,
                },
            );
        }
    }

    /// Deletes expired nodes; returns the nodes to ask for again and when to look next.
    pub(super) fn tick(&mut self, now: Instant) -> (Vec<(String, String)>, Option<Instant>) {
        let mut expired = Vec::new();
        let mut refresh = Vec::new();
        let mut next: Option<Instant> = None;
        for (key, seen) in &mut self.nodes {
            let ttl = Duration::from_secs(u64::from(seen.found.ttl));
            let expires = seen.heard + ttl;
            if now >= expires {
                expired.push(key.clone());
                continue;
            }
            let due = |i: usize| seen.heard + ttl * REFRESH_AT[i] / 1000;
            if seen.asked < REFRESH_AT.len() && now >= due(seen.asked) {
                // Skip straight past refresh points that are already behind us.
                while seen.asked < REFRESH_AT.len() && now >= due(seen.asked) {
                    seen.asked += 1;
                }
                refresh.push(key.clone());
            }
            let at = if seen.asked < REFRESH_AT.len() {
                due(seen.asked)
            } else {
                expires
            };
            next = Some(next.map_or(at, |n| n.min(at)));
        }
        for key in expired {
            if let Some(gone) = self.nodes.remove(&key) {
                self.emit(Action::Delete, gone.found);
            }
        }
        (refresh, next)
    }

    // Never blocks: a watcher that fell behind is closed (it then reads afresh), a dropped one is
    // forgotten.
    fn emit(&mut self, action: Action, found: Found) {
        let event = Event {
            action,
            service: ServiceRecord {
                nodes: vec![found.node],
                ..found.service
            },
        };
        self.watchers.send(&event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Node;

    fn found(id: &str, address: &str, ttl: u32) -> Found {
        Found {
            service: ServiceRecord {
                name: "greeter".into(),
                version: "latest".into(),
                ..ServiceRecord::default()
            },
            node: Node {
                id: id.into(),
                address: address.into(),
                ..Node::default()
            },
            ttl,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn create_update_refresh_and_expire() {
        let mut cache = Cache::default();
        let mut watcher = cache.subscribe(Some("greeter"));
        assert!(cache.active());
        let start = Instant::now();
        cache.observe(vec![found("a", "127.0.0.1:1", 10)], start);
        assert_eq!(watcher.next().await.unwrap().action, Action::Create);
        // The same record again is no event; a new address is an update.
        cache.observe(vec![found("a", "127.0.0.1:1", 10)], start);
        cache.observe(vec![found("a", "127.0.0.1:2", 10)], start);
        assert_eq!(watcher.next().await.unwrap().action, Action::Update);
        let (refresh, next) = cache.tick(start);
        assert!(refresh.is_empty());
        assert_eq!(next, Some(start + Duration::from_secs(8)));
        let (refresh, next) = cache.tick(start + Duration::from_secs(8));
        assert_eq!(refresh, vec![("greeter".into(), "a".into())]);
        assert_eq!(next, Some(start + Duration::from_secs(9)));
        let (_, next) = cache.tick(start + Duration::from_secs(9));
        assert_eq!(next, Some(start + Duration::from_secs(10)));
        cache.tick(start + Duration::from_secs(10));
        let event = watcher.next().await.unwrap();
        assert_eq!(event.action, Action::Delete);
        assert_eq!(event.service.nodes[0].address, "127.0.0.1:2");
    }

    #[tokio::test]
    async fn goodbye_deletes_and_other_services_are_filtered() {
        let mut cache = Cache::default();
        let mut watcher = cache.subscribe(Some("other"));
        let mut all = cache.subscribe(None);
        let now = Instant::now();
        cache.observe(vec![found("a", "127.0.0.1:1", 10)], now);
        cache.observe(vec![found("a", "", 0)], now);
        assert_eq!(all.next().await.unwrap().action, Action::Create);
        assert_eq!(all.next().await.unwrap().action, Action::Delete);
        drop(cache);
        assert!(watcher.next().await.is_none());
    }
}
