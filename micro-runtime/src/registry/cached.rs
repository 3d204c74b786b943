//! [`CachedRegistry`]: another registry's lookups answered from memory.

use std::sync::Arc;
use std::time::Duration;

use super::{BoxFuture, Cache, Registry, ServiceRecord, Watcher};
use crate::LocalError;

/// How long a cached lookup serves before it is fetched again behind the next lookup; watch
/// events keep it current in between (go-micro's cache TTL).
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(60);

/// A registry whose [`get_service`](Registry::get_service) answers from a copy of the lookups of
/// another, kept fresh by a watch on each service looked up (go-micro's `registry/cache`). The
/// rest (registering, listing, watching) goes to the other registry.
///
/// Clients cache on their own; this is for code that looks services up besides calling them,
/// such as a gateway, so that both share one copy: it reports that it needs no cache, so a
/// [`Client`](crate::Client) over it does not keep a second.
///
/// ```
/// use std::sync::Arc;
/// use micro_runtime::Client;
/// use micro_runtime::registry::{CachedRegistry, MemoryRegistry, Registry};
///
/// let registry: Arc<dyn Registry> = Arc::new(CachedRegistry::new(Arc::new(MemoryRegistry::new())));
/// let client = Client::new(Arc::clone(&registry));
/// ```
#[derive(Debug)]
pub struct CachedRegistry {
    registry: Arc<dyn Registry>,
    // None when the registry answers from memory anyway (the memory registry).
    cache: Option<Cache>,
}

impl CachedRegistry {
    /// Caches `registry`'s lookups for [`DEFAULT_CACHE_TTL`].
    pub fn new(registry: Arc<dyn Registry>) -> Self {
        Self::with_ttl(registry, DEFAULT_CACHE_TTL)
    }

    /// Caches `registry`'s lookups, fetching each again after `ttl` (zero: never cached).
    pub fn with_ttl(registry: Arc<dyn Registry>, ttl: Duration) -> Self {
        let cache = (registry.needs_cache() && !ttl.is_zero())
            .then(|| Cache::new(Arc::clone(&registry), ttl));
        Self { registry, cache }
    }

    /// The registry whose lookups are cached.
    pub fn inner(&self) -> &Arc<dyn Registry> {
        &self.registry
    }
}

impl Registry for CachedRegistry {
    fn register<'a>(
        &'a self,
        service: &'a ServiceRecord,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), LocalError>> {
        self.registry.register(service, ttl)
    }

    fn deregister<'a>(
        &'a self,
        service: &'a ServiceRecord,
    ) -> BoxFuture<'a, Result<(), LocalError>> {
        self.registry.deregister(service)
    }

    fn get_service<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ServiceRecord>, LocalError>> {
        Box::pin(async move { Ok(self.get_service_shared(name).await?.to_vec()) })
    }

    fn get_service_shared<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Arc<[ServiceRecord]>, LocalError>> {
        match &self.cache {
            Some(cache) => Box::pin(cache.get(name)),
            None => self.registry.get_service_shared(name),
        }
    }

    fn list_services(&self) -> BoxFuture<'_, Result<Vec<ServiceRecord>, LocalError>> {
        self.registry.list_services()
    }

    fn watch<'a>(&'a self, service: Option<&'a str>) -> BoxFuture<'a, Result<Watcher, LocalError>> {
        self.registry.watch(service)
    }

    fn needs_cache(&self) -> bool {
        false
    }

    fn name(&self) -> &'static str {
        self.registry.name()
    }
}
