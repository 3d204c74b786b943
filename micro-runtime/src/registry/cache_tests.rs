//! Tests of the registry cache, over the memory registry behind a wrapper that counts lookups,
//! can be made to fail, and asks to be cached (the memory registry itself does not).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use super::Cache;
use crate::registry::{BoxFuture, MemoryRegistry, Node, Registry, ServiceRecord, Watcher};
use crate::{LocalError, LocalErrorKind};

#[derive(Debug, Default)]
struct Remote {
    records: MemoryRegistry,
    lookups: AtomicUsize,
    down: AtomicBool,
}

impl Registry for Remote {
    fn register<'a>(
        &'a self,
        service: &'a ServiceRecord,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), LocalError>> {
        self.records.register(service, ttl)
    }

    fn deregister<'a>(
        &'a self,
        service: &'a ServiceRecord,
    ) -> BoxFuture<'a, Result<(), LocalError>> {
        self.records.deregister(service)
    }

    fn get_service<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ServiceRecord>, LocalError>> {
        Box::pin(async move {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            let down = self.down.load(Ordering::SeqCst);
            let read = self.records.get_service(name).await;
            // The answer takes a while to come back, as over the network: concurrent lookups
            // overlap, and changes made meanwhile are not in it.
            tokio::time::sleep(Duration::from_millis(10)).await;
            if down {
                return Err(LocalError::new(LocalErrorKind::Registry, "registry down"));
            }
            read
        })
    }

    fn list_services(&self) -> BoxFuture<'_, Result<Vec<ServiceRecord>, LocalError>> {
        self.records.list_services()
    }

    fn watch<'a>(&'a self, service: Option<&'a str>) -> BoxFuture<'a, Result<Watcher, LocalError>> {
        self.records.watch(service)
    }

    fn name(&self) -> &'static str {
        "remote"
    }
}

fn service(ids: &[&str]) -> ServiceRecord {
    ServiceRecord {
        name: "greeter".into(),
        version: "latest".into(),
        nodes: ids
            .iter()
            .map(|id| Node {
                id: id.to_string(),
                address: format!("{id}:1"),
                ..Node::default()
            })
            .collect(),
        ..ServiceRecord::default()
    }
}

fn ids(services: &[ServiceRecord]) -> Vec<String> {
    let mut ids: Vec<String> = services
        .iter()
        .flat_map(|s| s.nodes.iter().map(|n| n.id.clone()))
        .collect();
    ids.sort();
    ids
}

/// Looks `greeter` up until `want` holds, failing after a second of (virtual) time.
async fn until(cache: &Cache, want: impl Fn(&[String]) -> bool) -> Vec<String> {
    tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            let found = ids(&cache.get("greeter").await.unwrap());
            if want(&found) {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the cache caught up")
}

fn setup() -> (Arc<Remote>, Cache) {
    let remote = Arc::new(Remote::default());
    let cache = Cache::new(remote.clone(), Duration::from_secs(60));
    (remote, cache)
}

#[tokio::test(start_paused = true)]
async fn concurrent_first_lookups_make_one_request() {
    let (remote, cache) = setup();
    remote.register(&service(&["a"]), None).await.unwrap();
    let lookups: Vec<_> = (0..10)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get("greeter").await.unwrap() })
        })
        .collect();
    for lookup in lookups {
        assert_eq!(ids(&lookup.await.unwrap()), ["a"]);
    }
    assert_eq!(remote.lookups.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn the_watch_adds_and_removes_nodes_without_new_lookups() {
    let (remote, cache) = setup();
    remote.register(&service(&["a"]), None).await.unwrap();
    assert_eq!(ids(&cache.get("greeter").await.unwrap()), ["a"]);

    remote.register(&service(&["b"]), None).await.unwrap();
    until(&cache, |ids| ids == ["a", "b"]).await;
    remote.deregister(&service(&["a"])).await.unwrap();
    until(&cache, |ids| ids == ["b"]).await;
    assert_eq!(remote.lookups.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_miss_is_remembered_briefly_and_the_watch_still_fills_the_service_in() {
    let (remote, cache) = setup();
    for _ in 0..10 {
        assert!(cache.get("greeter").await.unwrap().is_empty());
    }
    assert_eq!(
        remote.lookups.load(Ordering::SeqCst),
        1,
        "one lookup for ten misses"
    );
    remote.register(&service(&["a"]), None).await.unwrap();
    until(&cache, |ids| ids == ["a"]).await;
    remote.deregister(&service(&["a"])).await.unwrap();
    until(&cache, |ids| ids.is_empty()).await;
    tokio::time::advance(super::MISS_TTL).await;
    let before = remote.lookups.load(Ordering::SeqCst);
    assert!(cache.get("greeter").await.unwrap().is_empty());
    assert_eq!(
        remote.lookups.load(Ordering::SeqCst),
        before + 1,
        "asked again once the miss expired"
    );
}

#[tokio::test(start_paused = true)]
async fn a_service_that_appears_later_is_filled_in_by_the_watch() {
    let (remote, cache) = setup();
    assert!(cache.get("greeter").await.unwrap().is_empty());
    remote.register(&service(&["a"]), None).await.unwrap();
    until(&cache, |ids| ids == ["a"]).await;
}

#[tokio::test(start_paused = true)]
async fn an_expired_entry_serves_while_it_refreshes_and_stale_survives_registry_errors() {
    let (remote, cache) = setup();
    remote.register(&service(&["a"]), None).await.unwrap();
    cache.get("greeter").await.unwrap();

    // Past the TTL with the registry down: the old copy still answers, at once.
    remote.down.store(true, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(61)).await;
    assert_eq!(ids(&cache.get("greeter").await.unwrap()), ["a"]);
    tokio::time::sleep(Duration::from_millis(50)).await; // the background refresh fails
    assert_eq!(remote.lookups.load(Ordering::SeqCst), 2);
    assert_eq!(ids(&cache.get("greeter").await.unwrap()), ["a"]);
    // A failed refresh is not retried on every call.
    assert_eq!(remote.lookups.load(Ordering::SeqCst), 2);

    // Back up, after the retry interval: the refresh goes through.
    remote.down.store(false, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(6)).await;
    cache.get("greeter").await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(remote.lookups.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn a_first_lookup_with_the_registry_down_is_an_error() {
    let (remote, cache) = setup();
    remote.down.store(true, Ordering::SeqCst);
    let err = cache.get("greeter").await.unwrap_err();
    assert!(err.to_string().contains("registry down"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn concurrent_first_lookups_share_a_miss_or_an_error() {
    let (remote, cache) = setup();
    let lookups = |cache: &Cache| {
        (0..10)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.get("greeter").await })
            })
            .collect::<Vec<_>>()
    };
    for lookup in lookups(&cache) {
        assert!(lookup.await.unwrap().unwrap().is_empty());
    }
    assert_eq!(remote.lookups.load(Ordering::SeqCst), 1);

    // Once the miss is no longer remembered, the next first lookups share an error too.
    tokio::time::advance(super::MISS_TTL).await;
    remote.down.store(true, Ordering::SeqCst);
    for lookup in lookups(&cache) {
        let err = lookup.await.unwrap().unwrap_err();
        assert!(err.to_string().contains("registry down"), "{err}");
    }
    assert_eq!(remote.lookups.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_delete_during_the_first_fetch_is_not_undone_by_its_answer() {
    let (remote, cache) = setup();
    remote.register(&service(&["a", "b"]), None).await.unwrap();
    let first = tokio::spawn({
        let cache = cache.clone();
        async move { cache.get("greeter").await.unwrap() }
    });
    // The fetch has read [a, b] and is on its way back when `a` goes.
    while remote.lookups.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    remote.deregister(&service(&["a"])).await.unwrap();
    first.await.unwrap();
    until(&cache, |ids| ids == ["b"]).await;
}

#[tokio::test(start_paused = true)]
async fn a_cached_registry_answers_from_its_copy_and_clients_do_not_cache_it_again() {
    use crate::registry::CachedRegistry;
    let remote = Arc::new(Remote::default());
    remote.register(&service(&["a"]), None).await.unwrap();
    let cached = CachedRegistry::new(remote.clone());
    assert!(!cached.needs_cache(), "it answers from memory");
    for _ in 0..5 {
        assert_eq!(ids(&cached.get_service("greeter").await.unwrap()), ["a"]);
    }
    assert_eq!(remote.lookups.load(Ordering::SeqCst), 1);
    // A registration through it reaches the registry, and the watch brings it into the copy.
    cached.register(&service(&["b"]), None).await.unwrap();
    tokio::time::timeout(Duration::from_secs(1), async {
        while ids(&cached.get_service_shared("greeter").await.unwrap()) != ["a", "b"] {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the watch caught up");
    assert_eq!(remote.lookups.load(Ordering::SeqCst), 1);
}
