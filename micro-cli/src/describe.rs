//! `micro describe NAME` (and `micro get service NAME`): a service's nodes and its endpoints with
//! their request and response schemas, laid out as the Micro toolkit's `get service` prints them.

use micro_runtime::registry::{Endpoint, ServiceRecord};

use crate::config::{Global, Output};
use crate::failure::Failure;
use crate::services::columns;

pub async fn run(global: &Global, name: &str) -> Result<(), Failure> {
    let registry = global.registry()?;
    let records = global.service(&registry, name).await?;
    match global.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&records).map_err(|e| Failure::Other(e.to_string()))?
        ),
        Output::Table => {
            let text: Vec<String> = records.iter().map(describe).collect();
            print!("{}", text.join("\n"));
        }
    }
    Ok(())
}

/// One version of a service: its name and version, a table of nodes, then each endpoint.
pub fn describe(record: &ServiceRecord) -> String {
    let mut out = format!("service  {}\nversion  {}\n\n", record.name, record.version);
    let nodes: Vec<[String; 3]> = record
        .nodes
        .iter()
        .map(|node| {
            [
                node.id.clone(),
                node.address.clone(),
                pairs(node.metadata.iter()),
            ]
        })
        .collect();
    out.push_str(&columns(&["ID", "ADDRESS", "METADATA"], &nodes));
    let mut endpoints: Vec<&Endpoint> = record.endpoints.iter().collect();
    endpoints.sort_by(|a, b| a.name.cmp(&b.name));
    for endpoint in endpoints {
        out.push('\n');
        out.push_str(&self::endpoint(endpoint));
    }
    out
}

/// `Endpoint: X`, its metadata when it has some, and its request and response trees.
pub fn endpoint(endpoint: &Endpoint) -> String {
    let mut out = format!("Endpoint: {}\n", endpoint.name);
    if !endpoint.metadata.is_empty() {
        out.push_str(&format!("Metadata: {}\n", pairs(endpoint.metadata.iter())));
    }
    for (label, value) in [
        ("Request", &endpoint.request),
        ("Response", &endpoint.response),
    ] {
        match value {
            Some(value) => out.push_str(&format!("{label}: {}\n", value.tree())),
            None => out.push_str(&format!("{label}: {{}}\n")),
        }
    }
    out
}

/// `key=value` pairs, sorted, comma-separated.
fn pairs<'a>(map: impl Iterator<Item = (&'a String, &'a String)>) -> String {
    let mut pairs: Vec<String> = map.map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    pairs.join(",")
}
