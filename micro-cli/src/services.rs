//! `micro services`: every service in the registry, its versions and how many nodes serve it.

use std::collections::BTreeMap;

use micro_runtime::registry::ServiceRecord;

use crate::config::{Global, Output};
use crate::failure::Failure;

pub async fn run(global: &Global) -> Result<(), Failure> {
    let registry = global.registry()?;
    let listed = global.ask(registry.list_services()).await?;
    // A listing may leave nodes out (go-micro's etcd and mDNS registries do): fetch each service.
    let mut names: Vec<&str> = listed.iter().map(|s| s.name.as_str()).collect();
    names.dedup();
    let mut records: Vec<ServiceRecord> = Vec::new();
    for name in names {
        records.extend(global.ask(registry.get_service(name)).await?);
    }
    match global.output {
        Output::Json => println!("{}", json(&records)?),
        Output::Table => print!("{}", table(&records)),
    }
    Ok(())
}

fn json(records: &[ServiceRecord]) -> Result<String, Failure> {
    serde_json::to_string_pretty(records).map_err(|e| Failure::Other(e.to_string()))
}

/// `NAME  VERSIONS  NODES`, one row per service, sorted by name.
pub fn table(records: &[ServiceRecord]) -> String {
    let mut services: BTreeMap<&str, (Vec<&str>, usize)> = BTreeMap::new();
    for record in records {
        let (versions, nodes) = services.entry(&record.name).or_default();
        if !versions.contains(&record.version.as_str()) {
            versions.push(&record.version);
        }
        *nodes += record.nodes.len();
    }
    let rows: Vec<[String; 3]> = services
        .into_iter()
        .map(|(name, (versions, nodes))| [name.to_string(), versions.join(","), nodes.to_string()])
        .collect();
    columns(&["NAME", "VERSIONS", "NODES"], &rows)
}

/// Left-aligned columns two spaces apart, the last one unpadded.
pub fn columns<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut out = String::new();
    let header = header.map(str::to_string);
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if i + 1 == N {
                    cell.clone()
                } else {
                    format!("{cell:<width$}", width = widths[i])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use micro_runtime::registry::Node;

    fn record(name: &str, version: &str, nodes: usize) -> ServiceRecord {
        ServiceRecord {
            name: name.into(),
            version: version.into(),
            nodes: (0..nodes).map(|_| Node::default()).collect(),
            ..ServiceRecord::default()
        }
    }

    #[test]
    fn one_row_per_service_with_its_versions_and_nodes() {
        let records = [
            record("orders", "v1", 1),
            record("greeter", "latest", 2),
            record("orders", "v2", 3),
        ];
        assert_eq!(
            table(&records),
            "NAME     VERSIONS  NODES\ngreeter  latest    2\norders   v1,v2     4\n"
        );
    }
}
