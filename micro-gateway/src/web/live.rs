//! The dashboard's data: the services as JSON, registry events as Server-Sent Events (so the list
//! changes as services come and go), and each node's `Debug.Health`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use super::Web;
use crate::errors::ApiError;

/// How long one node may take to answer `Debug.Health`.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);

/// One service in the list.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Listed {
    pub name: String,
    pub versions: Vec<String>,
    pub nodes: usize,
}

/// Every service with a node, by name, with its versions and node count.
pub(crate) async fn list(web: &Web) -> Vec<Listed> {
    let services = match crate::every_service(&web.gateway.registry).await {
        Ok(services) => services,
        Err(err) => {
            tracing::warn!(error = %err, "dashboard: cannot list services");
            return Vec::new();
        }
    };
    let mut listed = Vec::with_capacity(services.len());
    for (name, records) in services {
        let mut service = Listed {
            name,
            ..Listed::default()
        };
        for record in records.iter() {
            if !service.versions.contains(&record.version) {
                service.versions.push(record.version.clone());
            }
            service.nodes += record.nodes.len();
        }
        if service.nodes > 0 {
            listed.push(service);
        }
    }
    listed
}

/// `GET /web/services`.
pub(crate) async fn services_json(State(web): State<Arc<Web>>) -> Response {
    axum::Json(list(&web).await).into_response()
}

/// `GET /web/events`: one event per registry change (`{"action", "service", "nodes"}`).
pub(crate) async fn registry_events(State(web): State<Arc<Web>>) -> Response {
    let watcher = match web.gateway.registry.watch(None).await {
        Ok(watcher) => watcher,
        Err(err) => {
            return ApiError::new(503, format!("cannot watch the registry: {err}")).into_response();
        }
    };
    let events = futures_util::stream::unfold(watcher, |mut watcher| async move {
        let event = watcher.next().await?;
        let nodes: Vec<&str> = event.service.nodes.iter().map(|n| n.id.as_str()).collect();
        let data = json!({
            "action": event.action,
            "service": event.service.name,
            "version": event.service.version,
            "nodes": nodes,
        });
        Some((
            Ok::<_, Infallible>(Event::default().data(data.to_string())),
            watcher,
        ))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// `GET /web/health/{name}`: every node's `Debug.Health`, asked at once.
pub(crate) async fn health(State(web): State<Arc<Web>>, Path(name): Path<String>) -> Response {
    let records = web.records(&name).await;
    let client = &web.gateway.client;
    let checks = records.iter().flat_map(|r| r.nodes.iter()).map(|node| {
        let name = name.as_str();
        async move {
            let started = Instant::now();
            let status = client
                .node_health(name, &node.address, HEALTH_TIMEOUT)
                .await;
            json!({
                "id": node.id,
                "address": node.address,
                "status": status.as_deref().unwrap_or("unhealthy"),
                "error": status.as_ref().err().map(|e| e.detail.clone()),
                "latency_ms": started.elapsed().as_secs_f64() * 1000.0,
            })
        }
    });
    let rows = futures_util::future::join_all(checks).await;
    axum::Json(rows).into_response()
}
