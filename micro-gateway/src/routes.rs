//! The routes services declare (`google.api.http`, carried in endpoint metadata as go-micro's API
//! keys `method`, `path` and `body`, comma-joined and aligned): read from the registry, kept
//! current by a watch, and matched before the path rules, as go-micro's classic gateway does.

use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use micro_runtime::registry::{Endpoint, Registry};
use tokio::sync::OnceCell;

use crate::template::Template;

/// After a registry change, the pause before reading the routes again, so a burst of events
/// (a service starting several nodes) costs one rebuild.
const SETTLE: Duration = Duration::from_millis(50);
/// Routes are read again this often even with no event, in case one was lost.
const REFRESH: Duration = Duration::from_secs(30);
/// After a failed watch, the pause before the next.
const RETRY: Duration = Duration::from_secs(1);

/// One declared route.
#[derive(Clone, Debug)]
pub(crate) struct Declared {
    /// The HTTP method, upper-case.
    pub method: String,
    /// The template text, for messages and OpenAPI.
    pub path: String,
    pub template: Template,
    /// `*`, a field name, or empty.
    pub body: String,
    pub service: String,
    pub endpoint: Endpoint,
}

/// What a request's path and method found among the declared routes.
pub(crate) enum Found {
    /// A route, with the path's variables.
    Route(Arc<Declared>, Vec<(String, String)>),
    /// Routes for this path exist, but not for this method: these methods.
    OtherMethods(Vec<String>),
    None,
}

/// The routes of every service, most specific first.
#[derive(Debug, Default)]
pub(crate) struct Table {
    routes: Vec<Arc<Declared>>,
}

impl Table {
    /// The route for `method` and `path`.
    pub fn find(&self, method: &str, path: &str) -> Found {
        let mut others = Vec::new();
        for route in &self.routes {
            let Some(variables) = route.template.matches(path) else {
                continue;
            };
            if route.method == method {
                return Found::Route(Arc::clone(route), variables);
            }
            if !others.contains(&route.method) {
                others.push(route.method.clone());
            }
        }
        if others.is_empty() {
            Found::None
        } else {
            Found::OtherMethods(others)
        }
    }

    /// Every route, most specific first.
    pub fn routes(&self) -> &[Arc<Declared>] {
        &self.routes
    }
}

/// The table, read on first use and then kept current by a task that watches the registry
/// (it ends with the gateway).
#[derive(Debug)]
pub(crate) struct Routes {
    current: RwLock<Arc<Table>>,
    started: OnceCell<()>,
}

impl Routes {
    pub fn new() -> Self {
        Self {
            current: RwLock::new(Arc::default()),
            started: OnceCell::new(),
        }
    }

    /// The current table; the first call reads it and starts the watch.
    pub async fn table(self: &Arc<Self>, registry: &Arc<dyn Registry>) -> Arc<Table> {
        self.started
            .get_or_init(|| async {
                let table = read(registry).await;
                *self.current.write().expect("not poisoned") = Arc::new(table);
                tokio::spawn(watch(Arc::downgrade(self), Arc::clone(registry)));
            })
            .await;
        Arc::clone(&self.current.read().expect("not poisoned"))
    }
}

/// Reads the table again after each registry change (and every [`REFRESH`]), until the routes
/// are dropped.
async fn watch(routes: Weak<Routes>, registry: Arc<dyn Registry>) {
    loop {
        let mut watcher = match registry.watch(None).await {
            Ok(watcher) => watcher,
            Err(err) => {
                tracing::warn!(error = %err, "gateway: cannot watch the registry for routes");
                tokio::time::sleep(RETRY).await;
                if !refresh(&routes, &registry).await {
                    return;
                }
                continue;
            }
        };
        loop {
            let ended = match tokio::time::timeout(REFRESH, watcher.next()).await {
                // A change: let a burst of them settle first.
                Ok(Some(_)) => {
                    tokio::time::sleep(SETTLE).await;
                    while let Ok(Some(_)) =
                        tokio::time::timeout(Duration::ZERO, watcher.next()).await
                    {
                    }
                    false
                }
                Ok(None) => true,
                // Quiet for a while: read again anyway, in case an event was lost.
                Err(_) => false,
            };
            if !refresh(&routes, &registry).await {
                return;
            }
            if ended {
                // A registry whose watches end at once must not be asked in a tight loop.
                tokio::time::sleep(RETRY).await;
                break;
            }
        }
    }
}

/// Reads the table into `routes`; false once the gateway is gone.
async fn refresh(routes: &Weak<Routes>, registry: &Arc<dyn Registry>) -> bool {
    let table = read(registry).await;
    let Some(routes) = routes.upgrade() else {
        return false;
    };
    *routes.current.write().expect("not poisoned") = Arc::new(table);
    true
}

/// Every declared route of every service in the registry.
async fn read(registry: &Arc<dyn Registry>) -> Table {
    let services = match crate::every_service(registry).await {
        Ok(services) => services,
        Err(err) => {
            tracing::warn!(error = %err, "gateway: cannot list services for routes");
            return Table::default();
        }
    };
    let mut routes = Vec::new();
    for (name, records) in &services {
        for endpoint in records.iter().flat_map(|r| r.endpoints.iter()) {
            routes.extend(declared(name, endpoint));
        }
    }
    // The first service to declare a method and path keeps it.
    let mut declared = std::collections::HashSet::new();
    routes.retain(|r| declared.insert((r.method.clone(), r.path.clone())));
    routes.sort_by_key(|r| std::cmp::Reverse(r.template.specificity()));
    Table {
        routes: routes.into_iter().map(Arc::new).collect(),
    }
}

/// The routes one endpoint's metadata declares. go-micro's lists are a cross product of methods
/// and paths; micro-build writes them aligned (route `i` is `method[i] path[i]`), which is what
/// lists of the same length are read as.
fn declared(service: &str, endpoint: &Endpoint) -> Vec<Declared> {
    let (Some(methods), Some(paths)) = (
        endpoint.metadata.get("method"),
        endpoint.metadata.get("path"),
    ) else {
        return Vec::new();
    };
    let methods: Vec<&str> = methods.split(',').map(str::trim).collect();
    let paths: Vec<&str> = paths.split(',').map(str::trim).collect();
    let bodies: Vec<&str> = endpoint
        .metadata
        .get("body")
        .map(|b| b.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let pairs: Vec<(usize, &str, &str)> = if methods.len() == paths.len() {
        methods
            .iter()
            .zip(&paths)
            .enumerate()
            .map(|(i, (m, p))| (i, *m, *p))
            .collect()
    } else {
        methods
            .iter()
            .flat_map(|m| paths.iter().map(move |p| (usize::MAX, *m, *p)))
            .collect()
    };
    let mut routes = Vec::new();
    for (i, method, path) in pairs {
        match Template::parse(path) {
            Ok(template) => routes.push(Declared {
                method: method.to_ascii_uppercase(),
                path: path.to_string(),
                template,
                body: bodies.get(i).or(bodies.first()).unwrap_or(&"").to_string(),
                service: service.to_string(),
                endpoint: endpoint.clone(),
            }),
            Err(why) => {
                tracing::warn!(service, endpoint = %endpoint.name, "gateway: ignoring a route: {why}");
            }
        }
    }
    routes
}
