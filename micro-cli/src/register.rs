//! `micro register FILE.json` and `micro deregister FILE.json`: a service record written by hand
//! (go-micro's JSON form, as etcd holds it), for a service the registry cannot see register
//! itself: an external dependency, a node behind a proxy, a test double.

use std::time::Duration;

use micro_runtime::registry::ServiceRecord;

use crate::config::Global;
use crate::failure::Failure;

/// Reads and checks the record in `path`.
fn read(path: &str) -> Result<ServiceRecord, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("cannot read {path}: {e}")))?;
    let record: ServiceRecord = serde_json::from_str(&text).map_err(|e| {
        Failure::Usage(format!(
            "{path} is not a service record: {e} (go-micro's form: {{\"name\": ..., \"version\": ..., \"nodes\": [{{\"id\": ..., \"address\": \"host:port\"}}]}})"
        ))
    })?;
    if record.name.trim().is_empty() {
        return Err(Failure::Usage(format!("{path}: the record has no name")));
    }
    if record.nodes.is_empty() {
        return Err(Failure::Usage(format!("{path}: the record has no nodes")));
    }
    for node in &record.nodes {
        if node.id.trim().is_empty() || node.address.trim().is_empty() {
            return Err(Failure::Usage(format!(
                "{path}: every node needs an id and an address"
            )));
        }
    }
    Ok(record)
}

pub async fn register(global: &Global, path: &str, ttl: Option<Duration>) -> Result<(), Failure> {
    let record = read(path)?;
    let registry = global.registry()?;
    global.ask(registry.register(&record, ttl)).await?;
    let until = match ttl {
        Some(ttl) => format!(" for {ttl:?}"),
        None => " until deregistered".to_string(),
    };
    eprintln!(
        "registered {} {} ({} nodes) in the {}{until}",
        record.name,
        record.version,
        record.nodes.len(),
        global.registry_name()
    );
    Ok(())
}

pub async fn deregister(global: &Global, path: &str) -> Result<(), Failure> {
    let record = read(path)?;
    let registry = global.registry()?;
    global.ask(registry.deregister(&record)).await?;
    eprintln!(
        "deregistered {} {} ({} nodes) from the {}",
        record.name,
        record.version,
        record.nodes.len(),
        global.registry_name()
    );
    Ok(())
}
