//! [`Cache`]: a copy of registry lookups kept fresh by a watch, behind the selector and
//! [`CachedRegistry`](super::CachedRegistry).
//!
//! A network registry answers a lookup in a round trip (etcd) or a whole query timeout (mDNS, 100
//! ms), far too slow to ask on every call. So the first lookup of a service also starts a watch,
//! whose events patch the cached copy as nodes come and go; the copy is fetched again in the
//! background once it is older than the TTL, in case a watch event was lost.
//!
//! What go-micro's `registry/cache` does, and what we keep: concurrent lookups of a service that
//! is not cached yet make one registry request between them (singleflight); when the registry
//! fails, the stale copy keeps serving. Where we differ: an expired entry is served while it is
//! refreshed in the background, so no call ever waits for a refresh, only the very first lookup.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::LocalError;
use crate::registry::{Action, Event, Registry, ServiceRecord, Watcher};

// After a failed refresh, how long the stale copy serves before the next try (go-micro's
// `MinimumRetryInterval`), so a dead registry is not asked on every call.
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(5);
// How long a lookup that found nothing is answered from the cache. The watch adds the service the
// moment it appears, so this only bounds how long a lost watch event could hide it; it spares a
// publisher with no subscribers yet a registry query (100 ms over mDNS) on every publish.
const MISS_TTL: Duration = Duration::from_secs(1);
// A watch that fails or ends is restarted after this, doubling up to the cap.
const WATCH_BACKOFF: Duration = Duration::from_millis(100);
const WATCH_BACKOFF_MAX: Duration = Duration::from_secs(10);

/// Cached lookups of one registry. Clones share the cache.
#[derive(Clone, Debug)]
pub(crate) struct Cache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Arc<dyn Registry>,
    ttl: Duration,
    entries: Mutex<HashMap<String, Arc<Entry>>>,
    // The watch and refresh tasks, stopped when the last clone of the cache goes.
    tasks: Mutex<Vec<AbortHandle>>,
}

#[derive(Debug, Default)]
struct Entry {
    state: Mutex<State>,
    // Held while fetching, so concurrent first lookups make one request.
    fetching: tokio::sync::Mutex<()>,
    refreshing: AtomicBool,
    watching: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    services: Option<Arc<[ServiceRecord]>>,
    // When the copy must be fetched again (the TTL, or the retry time after an error).
    refresh_at: Option<Instant>,
    // Watch events applied so far: a fetch that saw this change while it was out may be older
    // than what the watch already applied, so it must not overwrite it.
    events: u64,
    // First lookups finished so far, and how the last one ended when it found nothing: lookups
    // that queued behind it take its answer rather than ask again one by one.
    fetches: u64,
    missed: Option<Result<(), String>>,
    // Until when a lookup that found nothing is answered "none" without asking again.
    miss_until: Option<Instant>,
}

impl Cache {
    /// A cache over `registry` whose entries are fetched again after `ttl`.
    pub(crate) fn new(registry: Arc<dyn Registry>, ttl: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry,
                ttl,
                entries: Mutex::default(),
                tasks: Mutex::default(),
            }),
        }
    }

    /// The service's records: cached, or fetched (and then watched) on first use.
    pub(crate) async fn get(&self, name: &str) -> Result<Arc<[ServiceRecord]>, LocalError> {
        let entry = self.entry(name);
        if let Some(services) = self.cached(name, &entry) {
            return Ok(services);
        }
        let fetches = lock(&entry.state).fetches;
        let _fetching = entry.fetching.lock().await;
        {
            // Another lookup may have fetched it while this one waited: take its answer.
            let state = lock(&entry.state);
            if let Some(services) = state.services.clone() {
                return Ok(services);
            }
            if state.fetches != fetches {
                return match &state.missed {
                    Some(Err(message)) => Err(LocalError::new(
                        crate::LocalErrorKind::Registry,
                        message.clone(),
                    )),
                    _ => Ok(Arc::from(Vec::new())),
                };
            }
        }
        // The watch opens before the fetch, so no change between the two is missed.
        if !entry.watching.swap(true, Ordering::AcqRel) {
            let watcher = match self.inner.registry.watch(Some(name)).await {
                Ok(watcher) => Some(watcher),
                Err(err) => {
                    tracing::warn!(service = %name, error = %err, "cannot watch the registry; will retry");
                    None
                }
            };
            self.spawn_watch(name, &entry, watcher);
        }
        let events = lock(&entry.state).events;
        let fetched = self.inner.registry.get_service(name).await;
        let mut state = lock(&entry.state);
        state.fetches += 1;
        let services: Arc<[ServiceRecord]> = match fetched {
            Ok(services) => services.into(),
            Err(err) => {
                state.missed = Some(Err(err.to_string()));
                return Err(err);
            }
        };
        if services.is_empty() {
            // An unknown service is remembered briefly; the watch fills the entry in when it
            // appears.
            state.missed = Some(Ok(()));
            if state.events == events {
                state.miss_until = Some(Instant::now() + MISS_TTL);
            }
        } else if state.events == events {
            state.services = Some(Arc::clone(&services));
            state.refresh_at = Some(Instant::now() + self.inner.ttl);
        } else if state.services.is_none() {
            // The watch moved on while this was out, so the answer may be stale already: keep it,
            // but fetch again behind the next lookup.
            state.services = Some(Arc::clone(&services));
            state.refresh_at = Some(Instant::now());
        }
        Ok(state.services.clone().unwrap_or(services))
    }

    fn entry(&self, name: &str) -> Arc<Entry> {
        let mut entries = lock(&self.inner.entries);
        if let Some(entry) = entries.get(name) {
            return Arc::clone(entry);
        }
        let entry = Arc::new(Entry::default());
        entries.insert(name.to_string(), Arc::clone(&entry));
        entry
    }

    // The cached copy, if any; an expired one is returned all the same and refreshed behind it.
    fn cached(&self, name: &str, entry: &Arc<Entry>) -> Option<Arc<[ServiceRecord]>> {
        let state = lock(&entry.state);
        let Some(services) = state.services.clone() else {
            let recent_miss = state.miss_until.is_some_and(|until| Instant::now() < until);
            return recent_miss.then(|| Arc::from(Vec::new()));
        };
        let expired = state.refresh_at.is_some_and(|at| Instant::now() >= at);
        drop(state);
        if expired && !entry.refreshing.swap(true, Ordering::AcqRel) {
            self.spawn_refresh(name, entry);
        }
        Some(services)
    }

    fn spawn_refresh(&self, name: &str, entry: &Arc<Entry>) {
        let (registry, ttl, name, entry) = (
            Arc::clone(&self.inner.registry),
            self.inner.ttl,
            name.to_string(),
            Arc::clone(entry),
        );
        let task = tokio::spawn(async move {
            let events = lock(&entry.state).events;
            let fetched = registry.get_service(&name).await;
            let mut state = lock(&entry.state);
            match fetched {
                Ok(_) if state.events != events => {
                    // The watch applied newer changes meanwhile: keep them, try again later.
                    state.refresh_at = Some(Instant::now());
                }
                Ok(services) => {
                    state.services = (!services.is_empty()).then(|| services.into());
                    state.refresh_at = Some(Instant::now() + ttl);
                }
                Err(err) => {
                    tracing::warn!(service = %name, error = %err, "registry lookup failed; serving the cached nodes");
                    state.refresh_at = Some(Instant::now() + RETRY_AFTER_ERROR);
                }
            }
            entry.refreshing.store(false, Ordering::Release);
        });
        self.track(task.abort_handle());
    }

    fn spawn_watch(&self, name: &str, entry: &Arc<Entry>, first: Option<Watcher>) {
        let weak = Arc::downgrade(&self.inner);
        let task = tokio::spawn(watch_loop(
            weak,
            name.to_string(),
            Arc::downgrade(entry),
            first,
        ));
        self.track(task.abort_handle());
    }

    fn track(&self, task: AbortHandle) {
        let mut tasks = lock(&self.inner.tasks);
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

// Applies the service's watch events to its entry, re-opening the watch whenever it ends.
async fn watch_loop(
    cache: Weak<Inner>,
    name: String,
    entry: Weak<Entry>,
    mut watcher: Option<Watcher>,
) {
    let mut backoff = WATCH_BACKOFF;
    loop {
        if let Some(mut events) = watcher.take() {
            while let Some(event) = events.next().await {
                let Some(entry) = entry.upgrade() else { return };
                apply(&mut lock(&entry.state), event);
                backoff = WATCH_BACKOFF;
            }
            tracing::debug!(service = %name, "registry watch ended; re-opening it");
            // Changes made while no watch was open are lost: fetch again on the next lookup.
            if let Some(entry) = entry.upgrade() {
                let mut state = lock(&entry.state);
                state.refresh_at = Some(Instant::now());
                state.miss_until = None;
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(WATCH_BACKOFF_MAX);
        let Some(inner) = cache.upgrade() else { return };
        let registry = Arc::clone(&inner.registry);
        drop(inner);
        match registry.watch(Some(&name)).await {
            Ok(events) => watcher = Some(events),
            Err(err) => {
                tracing::debug!(service = %name, error = %err, "re-opening the registry watch failed")
            }
        }
    }
}

/// Patches a cached copy with one watch event. Copy on write: lookups in flight keep the old one.
fn apply(state: &mut State, event: Event) {
    state.events += 1;
    let mut services: Vec<ServiceRecord> = state.services.as_deref().unwrap_or_default().to_vec();
    let changed = event.service;
    let position = services
        .iter()
        .position(|s| s.name == changed.name && s.version == changed.version);
    match event.action {
        Action::Create | Action::Update => {
            let record = match position {
                Some(i) => &mut services[i],
                None => {
                    services.push(ServiceRecord {
                        nodes: Vec::new(),
                        ..changed.clone()
                    });
                    services.last_mut().expect("just pushed")
                }
            };
            if !changed.endpoints.is_empty() {
                record.endpoints = changed.endpoints;
            }
            for node in changed.nodes {
                match record.nodes.iter_mut().find(|n| n.id == node.id) {
                    Some(known) => *known = node,
                    None => record.nodes.push(node),
                }
            }
        }
        Action::Delete => {
            let Some(i) = position else { return };
            services[i]
                .nodes
                .retain(|n| !changed.nodes.iter().any(|gone| gone.id == n.id));
            if services[i].nodes.is_empty() {
                services.remove(i);
            }
        }
    }
    if services.is_empty() {
        state.services = None;
    } else {
        if state.services.is_none() {
            // Filled in by the watch alone: fetch the whole record behind the next lookup.
            state.refresh_at = Some(Instant::now());
        }
        state.services = Some(services.into());
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing here can be left half-updated by a panic.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
