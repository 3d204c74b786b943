//! `micro describe NAME` (and `micro get service NAME`): a service's nodes and its endpoints with
//! their request and response schemas, laid out as the Micro toolkit's `get service` prints them.

use micro_runtime::registry::{Endpoint, ServiceRecord, Value};

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
            Some(value) => out.push_str(&format!("{label}: {}\n", tree(value, 0))),
            None => out.push_str(&format!("{label}: {{}}\n")),
        }
    }
    out
}

/// A type as an indented tree: `Type {`, a line per field (nested messages opened in place),
/// `}`; a type without fields is its name alone.
pub fn tree(value: &Value, depth: usize) -> String {
    if value.values.is_empty() {
        return value.type_name.clone();
    }
    let indent = "    ".repeat(depth + 1);
    let mut out = format!("{} {{\n", value.type_name);
    for field in &value.values {
        out.push_str(&format!(
            "{indent}{} {}\n",
            field.name,
            tree(field, depth + 1)
        ));
    }
    out.push_str(&"    ".repeat(depth));
    out.push('}');
    out
}

/// `key=value` pairs, sorted, comma-separated.
fn pairs<'a>(map: impl Iterator<Item = (&'a String, &'a String)>) -> String {
    let mut pairs: Vec<String> = map.map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    pairs.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(name: &str, type_name: &str, values: Vec<Value>) -> Value {
        Value {
            name: name.into(),
            type_name: type_name.into(),
            values,
        }
    }

    #[test]
    fn nested_messages_open_in_place() {
        let address = value("address", "Address", vec![value("city", "string", vec![])]);
        let request = value(
            "CreateRequest",
            "CreateRequest",
            vec![
                value("name", "string", vec![]),
                address,
                value("tags", "[]string", vec![]),
            ],
        );
        assert_eq!(
            tree(&request, 0),
            "CreateRequest {\n    name string\n    address Address {\n        city string\n    }\n    tags []string\n}"
        );
    }
}
