//! One-shot lookups: ask once, collect answers for the query timeout, as go-micro does.

use std::collections::BTreeMap;
use std::sync::Arc;

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::RecordType;
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::engine::Engine;
use super::entry::{self, Found};
use crate::LocalError;
use crate::registry::ServiceRecord;

/// Every version of `name` that answers within the query timeout, nodes sorted by id.
pub(super) async fn get_service(
    engine: &Engine,
    name: &str,
) -> Result<Vec<ServiceRecord>, LocalError> {
    let question = engine.names.service(name)?;
    // Subscribe before asking, so no answer can slip past.
    let mut responses = engine.responses.subscribe();
    engine
        .query(vec![Query::query(question, RecordType::PTR)])
        .await?;
    // node id → what was heard last; a goodbye heard later removes the node.
    let mut nodes: BTreeMap<String, Found> = BTreeMap::new();
    // Our own nodes come back over the loopback too; taking them directly means a lookup never
    // depends on hearing ourselves.
    for local in engine.lock().zone.nodes_of(name) {
        let found = Found {
            service: local.service,
            node: local.node,
            ttl: local.ttl,
        };
        nodes.insert(found.node.id.clone(), found);
    }
    collect(engine, &mut responses, |message| {
        for found in entry::nodes(&engine.names, message, Some(name)) {
            if found.ttl == 0 {
                nodes.remove(&found.node.id);
            } else {
                nodes.insert(found.node.id.clone(), found);
            }
        }
    })
    .await;
    // Grouped by version, as go-micro's GetService.
    let mut versions: BTreeMap<String, ServiceRecord> = BTreeMap::new();
    for found in nodes.into_values() {
        versions
            .entry(found.service.version.clone())
            .or_insert_with(|| found.service.clone())
            .nodes
            .push(found.node);
    }
    Ok(versions.into_values().collect())
}

/// The names of every service that answers the listing query, sorted; versions are not listed.
pub(super) async fn list_services(engine: &Engine) -> Result<Vec<ServiceRecord>, LocalError> {
    let question = engine.names.services()?;
    let mut responses = engine.responses.subscribe();
    engine
        .query(vec![Query::query(question, RecordType::PTR)])
        .await?;
    let mut names = engine.lock().zone.service_names();
    collect(engine, &mut responses, |message| {
        names.extend(entry::listed(&engine.names, message));
    })
    .await;
    names.sort();
    names.dedup();
    Ok(names
        .into_iter()
        .map(|name| ServiceRecord {
            name,
            ..ServiceRecord::default()
        })
        .collect())
}

// Feeds every response heard until the query timeout to `take`.
async fn collect(
    engine: &Engine,
    responses: &mut broadcast::Receiver<Arc<Message>>,
    mut take: impl FnMut(&Message),
) {
    let deadline = Instant::now() + engine.query_timeout;
    loop {
        match tokio::time::timeout_at(deadline, responses.recv()).await {
            Ok(Ok(message)) => take(&message),
            Ok(Err(broadcast::error::RecvError::Lagged(missed))) => {
                tracing::warn!(missed, "mdns: a lookup fell behind and missed responses");
            }
            Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => return,
        }
    }
}
