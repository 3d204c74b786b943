//! micro's HTTP gateway: any HTTP client calls micro and go-micro services by name.
//!
//! ```no_run
//! use std::sync::Arc;
//! use micro_gateway::{Gateway, GatewayOptions};
//! use micro_runtime::registry::{EtcdOptions, EtcdRegistry, Registry};
//!
//! # async fn run() -> anyhow::Result<()> {
//! let registry: Arc<dyn Registry> = Arc::new(EtcdRegistry::new(EtcdOptions::default())?);
//! let gateway = Gateway::new(registry, GatewayOptions::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! gateway.serve(listener, micro_runtime::service::shutdown_signal()).await?;
//! # Ok(()) }
//! ```
//! Then `curl -d '{"name": "John"}' http://127.0.0.1:8080/greeter/hello` calls `Greeter.Hello`
//! on the `greeter` service. What it serves:
//! - the routes services declare with `google.api.http` (`GET /v1/users/{id}`), first;
//! - `POST|GET /{path}`: the service and endpoint the path names ([`resolve`] has the rules);
//!   the JSON body, form or query string is the request;
//! - streaming endpoints over a WebSocket, as Server-Sent Events or as newline-delimited JSON
//!   (`stream.rs` has the details);
//! - `POST /rpc`: `{"service", "endpoint", "request", "address"}`, go-micro's classic envelope;
//! - `GET /`: the services and their endpoints; `GET /health`: the gateway's own health;
//! - `GET /openapi.json`: an OpenAPI 3.1 document of all of it, made from the registry; `GET
//!   /docs`: a page showing it.
//!
//! A service's error is answered with its code as the HTTP status and go-micro's error JSON as
//! the body ([`errors`]). The `micro api` command serves this; [`Gateway::router`] gives the
//! routes to serve another way or to wrap in more layers, such as authentication.

mod declared;
mod docs;
pub mod errors;
mod forward;
mod guard;
mod openapi;
pub mod options;
mod request;
pub mod resolve;
mod routes;
mod rpc;
mod serve;
mod stream;
mod template;
pub mod web;
mod websocket;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use micro_runtime::Client;
use micro_runtime::registry::{CachedRegistry, Registry, ServiceRecord};
use tokio::net::TcpListener;

pub use errors::ApiError;
pub use options::GatewayOptions;
pub use web::Dashboard;

/// The gateway: routes HTTP requests to services found in a registry.
#[derive(Clone, Debug)]
pub struct Gateway {
    shared: Arc<Shared>,
}

/// What every request handler needs.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Lookups answered from a copy kept fresh by a registry watch.
    pub(crate) registry: Arc<dyn Registry>,
    pub(crate) client: Client,
    pub(crate) options: GatewayOptions,
    /// The routes services declare, kept current from the registry.
    pub(crate) routes: Arc<routes::Routes>,
    /// Places for open WebSockets, which leave the connection cap once upgraded.
    pub(crate) streams: Arc<tokio::sync::Semaphore>,
    /// Becomes true when the gateway stops: open WebSockets close (1001).
    pub(crate) closing: tokio::sync::watch::Sender<bool>,
}

impl Gateway {
    /// A gateway over the services in `registry`.
    pub fn new(registry: Arc<dyn Registry>, options: GatewayOptions) -> Self {
        // One cache for the gateway's lookups and the client's: a cached registry answers from
        // memory, so the client does not cache again.
        let registry: Arc<dyn Registry> = Arc::new(CachedRegistry::new(registry));
        let client = Client::new(Arc::clone(&registry));
        let options_streams = options.max_connections.max(1);
        Self {
            shared: Arc::new(Shared {
                registry,
                client,
                options,
                routes: Arc::new(routes::Routes::new()),
                streams: Arc::new(tokio::sync::Semaphore::new(options_streams)),
                closing: tokio::sync::watch::Sender::new(false),
            }),
        }
    }

    /// The options it was made with.
    pub fn options(&self) -> &GatewayOptions {
        &self.shared.options
    }

    /// Its routes, with CORS as configured: to serve with [`serve_router`], or to wrap in more
    /// tower layers (authentication, rate limits) first.
    pub fn router(&self) -> Router {
        let router = Router::new()
            .route("/health", get(health))
            .route("/rpc", post(rpc::handle))
            .route("/openapi.json", get(docs::openapi_json))
            .route("/docs", get(docs::page))
            .route("/", get(forward::index))
            .fallback(forward::handle)
            .with_state(Arc::clone(&self.shared));
        let router = self.guarded(router);
        serve::cors(
            router,
            &self.shared.options.cors,
            &self.shared.options.metadata_headers,
        )
    }

    /// `router` behind the check of requests from other pages' origins (`guard.rs`).
    pub(crate) fn guarded(&self, router: Router) -> Router {
        let origins = Arc::new(guard::Origins(self.shared.options.cors.clone()));
        router.layer(axum::middleware::from_fn_with_state(
            origins,
            guard::check_origin,
        ))
    }

    /// Serves [`Self::router`] on `listener` until `shutdown` completes, then finishes the
    /// requests in flight.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.warm_up();
        let router = self.router();
        let served = serve_router(
            router,
            listener,
            &self.shared.options,
            self.closing(shutdown),
        );
        served.await?;
        self.drain_streams().await;
        Ok(())
    }

    /// `shutdown`, then the signal that closes open WebSockets.
    pub(crate) fn closing(
        &self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = ()> + Send + 'static {
        let closing = self.shared.closing.clone();
        async move {
            shutdown.await;
            let _ = closing.send(true);
        }
    }

    /// Waits (a bounded time) for the WebSockets told to close to be gone.
    pub(crate) async fn drain_streams(&self) {
        let all = u32::try_from(self.shared.options.max_connections.max(1)).unwrap_or(u32::MAX);
        let drained = self.shared.streams.acquire_many(all);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), drained).await;
    }

    /// Starts reading the declared routes now rather than on the first request: over mDNS the
    /// listing takes a query round, which no caller should wait for.
    pub(crate) fn warm_up(&self) {
        let shared = Arc::clone(&self.shared);
        tokio::spawn(async move {
            shared.routes.table(&shared.registry).await;
        });
    }
}

/// Serves `router` (a [`Gateway::router`], perhaps wrapped in more layers) on `listener` with the
/// connection limits of `options`, until `shutdown` completes. On a loopback listener, a request
/// whose `Host` does not name loopback is refused (403), so DNS rebinding cannot reach it.
pub async fn serve_router(
    router: Router,
    listener: TcpListener,
    options: &GatewayOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = if listener.local_addr()?.ip().is_loopback() {
        router.layer(axum::middleware::from_fn(guard::check_host))
    } else {
        router
    };
    serve::serve(router, listener, options, shutdown).await
}

/// Every service in the registry, once each and sorted by name, with its records: looked up one
/// by one, since a listing may leave nodes and endpoints out (go-micro's etcd and mDNS registries
/// do). A service that cannot be looked up has no records.
pub(crate) async fn every_service(
    registry: &Arc<dyn Registry>,
) -> Result<Vec<(String, Arc<[ServiceRecord]>)>, micro_runtime::LocalError> {
    let mut names: Vec<String> = registry
        .list_services()
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect();
    names.sort();
    names.dedup();
    let mut services = Vec::with_capacity(names.len());
    for name in names {
        let records = registry.get_service_shared(&name).await.unwrap_or_default();
        services.push((name, records));
    }
    Ok(services)
}

/// `GET /health`: the gateway itself is up.
async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"status": "ok"}))
}
