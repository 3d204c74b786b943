//! The dashboard (`micro web`): pages that list the services live, show each one's nodes and
//! endpoint schemas, call any endpoint from a form generated from its schema, watch a stream,
//! check health, and publish to or watch a topic.
//!
//! The pages are rendered here (every string from the registry escaped) with one small script,
//! `app.js`, embedded in the binary: no Node toolchain builds them, nothing is fetched from
//! elsewhere. Calls go through the gateway, served under `/api` by the same process, so the
//! dashboard calls services exactly as any HTTP client would.
//!
//! | path | what |
//! |---|---|
//! | `/` | the services, updated as the registry changes |
//! | `/service/{name}` | nodes, endpoints with schemas, call and stream forms, health |
//! | `/topics` | publish a JSON message; watch a topic |
//! | `/web/services`, `/web/events` | the list as JSON; registry events as Server-Sent Events |
//! | `/web/health/{name}` | `Debug.Health` of every node |
//! | `/web/publish`, `/web/subscribe?topic=` | publish; a topic's messages as Server-Sent Events |
//! | `/api/...` | the gateway ([`crate::Gateway`]) |

mod form;
mod live;
mod pages;
mod topics;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use micro_runtime::broker::Broker;
use tokio::net::TcpListener;

use crate::{Gateway, Shared};

/// The dashboard, in front of a [`Gateway`] it serves under `/api`.
#[derive(Clone, Debug)]
pub struct Dashboard {
    gateway: Gateway,
    web: Arc<Web>,
}

/// What the dashboard's handlers need besides the gateway's.
#[derive(Debug)]
pub(crate) struct Web {
    pub(crate) gateway: Arc<Shared>,
    /// Where topics are published and watched; `None` turns the topics page off.
    pub(crate) broker: Option<Arc<dyn Broker>>,
}

impl Web {
    /// A service's records, from the gateway's cached registry; none when it cannot answer.
    pub(crate) async fn records(
        &self,
        name: &str,
    ) -> Arc<[micro_runtime::registry::ServiceRecord]> {
        self.gateway
            .registry
            .get_service_shared(name)
            .await
            .unwrap_or_default()
    }
}

impl Dashboard {
    /// A dashboard over `gateway`'s registry, publishing and watching topics on `broker`.
    pub fn new(gateway: Gateway, broker: Option<Arc<dyn Broker>>) -> Self {
        let web = Arc::new(Web {
            gateway: Arc::clone(&gateway.shared),
            broker,
        });
        Self { gateway, web }
    }

    /// The dashboard's routes, with the gateway's under `/api`.
    pub fn router(&self) -> Router {
        let pages = Router::new()
            .route("/", get(pages::services))
            .route("/service/{name}", get(pages::service))
            .route("/topics", get(pages::topics))
            .route("/assets/app.js", get(script))
            .route("/assets/style.css", get(style))
            .route("/web/services", get(live::services_json))
            .route("/web/events", get(live::registry_events))
            .route("/web/health/{name}", get(live::health))
            .route("/web/publish", post(topics::publish))
            .route("/web/subscribe", get(topics::subscribe))
            .with_state(Arc::clone(&self.web));
        self.gateway
            .guarded(pages)
            .nest("/api", self.gateway.router())
    }

    /// Serves [`Self::router`] on `listener` until `shutdown`, with the gateway's limits.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.gateway.warm_up();
        let router = self.router();
        let shutdown = self.gateway.closing(shutdown);
        crate::serve_router(router, listener, self.gateway.options(), shutdown).await?;
        self.gateway.drain_streams().await;
        Ok(())
    }
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("app.js"),
    )
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("style.css"),
    )
}
