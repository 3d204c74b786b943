//! `micro health NAME`: `Debug.Health` on every node of a service, each called directly, with its
//! status and latency; the exit code is non-zero if any node is not healthy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use micro_runtime::Client;
use micro_runtime::registry::MemoryRegistry;
use serde_json::json;

use crate::config::{Global, Output};
use crate::failure::Failure;
use crate::services::columns;

/// How long one node may take to answer.
const NODE_TIMEOUT: Duration = Duration::from_secs(2);

/// One node's answer.
struct Checked {
    id: String,
    address: String,
    status: Result<String, String>,
    latency: Duration,
}

pub async fn run(global: &Global, name: &str) -> Result<(), Failure> {
    let registry = global.registry()?;
    let records = global.service(&registry, name).await?;
    // Each node is called at its own address: no selection, no retry on another node.
    let client = Client::new(Arc::new(MemoryRegistry::new()));
    let nodes = records.iter().flat_map(|r| &r.nodes);
    let checks = nodes.map(|node| {
        let client = client.clone();
        async move {
            let started = Instant::now();
            let status = client
                .node_health(name, &node.address, NODE_TIMEOUT)
                .await
                .map_err(|err| format!("{} {}", err.code, err.detail));
            Checked {
                id: node.id.clone(),
                address: node.address.clone(),
                status,
                latency: started.elapsed(),
            }
        }
    });
    // All at once, in order: a node that hangs costs NODE_TIMEOUT, not more.
    let checked = futures_util::future::join_all(checks).await;
    match global.output {
        Output::Json => {
            let rows: Vec<_> = checked
                .iter()
                .map(|c| {
                    json!({
                        "id": c.id,
                        "address": c.address,
                        "status": c.status.as_ref().unwrap_or(&"unhealthy".to_string()),
                        "error": c.status.as_ref().err(),
                        "latency_ms": c.latency.as_secs_f64() * 1000.0,
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&rows).unwrap_or_default()
            );
        }
        Output::Table => {
            let rows: Vec<[String; 4]> = checked
                .iter()
                .map(|c| {
                    let status = match &c.status {
                        Ok(status) => status.clone(),
                        Err(why) => format!("unhealthy: {why}"),
                    };
                    let latency = format!("{:.1}ms", c.latency.as_secs_f64() * 1000.0);
                    [c.id.clone(), c.address.clone(), latency, status]
                })
                .collect();
            print!(
                "{}",
                columns(&["ID", "ADDRESS", "LATENCY", "STATUS"], &rows)
            );
        }
    }
    let unhealthy = checked
        .iter()
        .filter(|c| !matches!(&c.status, Ok(s) if s == "ok"))
        .count();
    if unhealthy > 0 {
        return Err(Failure::Other(format!(
            "{unhealthy} of {} nodes of {name} are not healthy",
            checked.len()
        )));
    }
    Ok(())
}
