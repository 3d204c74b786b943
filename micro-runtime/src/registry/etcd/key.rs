//! go-micro's etcd layout: one key per node, `/micro/registry/<service>/<node-id>`, holding the
//! JSON of the service with just that node (`registry/etcd/etcd.go`, `nodePath`, `encode`).

use std::collections::BTreeMap;

use crate::registry::{Node, ServiceRecord};

/// Every key micro (and go-micro) writes starts with this.
pub(super) const PREFIX: &str = "/micro/registry/";

/// go-micro replaces `/` in names and ids with `-`, so a name is always exactly one key segment.
/// Different names can therefore share a key prefix; readers compare the decoded name.
fn escape(segment: &str) -> String {
    segment.replace('/', "-")
}

/// The prefix under which every node of the named service lives.
pub(super) fn service_prefix(name: &str) -> String {
    format!("{PREFIX}{}/", escape(name))
}

/// The key of one node.
pub(super) fn node_key(service: &str, node_id: &str) -> String {
    format!("{}{}", service_prefix(service), escape(node_id))
}

/// The value stored for `node`: the service with exactly that one node, endpoints included.
pub(super) fn encode(service: &ServiceRecord, node: &Node) -> String {
    let record = ServiceRecord {
        name: service.name.clone(),
        version: service.version.clone(),
        metadata: service.metadata.clone(),
        endpoints: service.endpoints.clone(),
        nodes: vec![node.clone()],
    };
    // Serializing plain strings and maps cannot fail.
    let json = serde_json::to_string(&record).expect("a ServiceRecord always serializes");
    go_escape(json)
}

/// Go's `encoding/json` escapes `<`, `>`, `&`, U+2028 and U+2029 inside strings; doing the same
/// keeps our values byte-identical to a Go service's. These characters only ever occur inside
/// JSON strings, so replacing them anywhere is safe.
fn go_escape(json: String) -> String {
    if !json.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Decodes a stored value. Other programs may write anything under the prefix, so a value that is
/// not a service record is logged and skipped, never an error for the caller.
pub(super) fn decode(key: &[u8], value: &[u8]) -> Option<ServiceRecord> {
    match serde_json::from_slice::<ServiceRecord>(value) {
        Ok(service) if !service.name.is_empty() => Some(service),
        Ok(_) => {
            tracing::warn!(key = %String::from_utf8_lossy(key), "etcd registry: skipping a record with no service name");
            None
        }
        Err(err) => {
            tracing::warn!(key = %String::from_utf8_lossy(key), %err, "etcd registry: skipping a malformed record");
            None
        }
    }
}

/// The end of the range holding every key that starts with `prefix`: the prefix with its last
/// byte below 0xff incremented and the rest dropped; `\0` (every key) when there is none.
pub(super) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    match prefix.iter().rposition(|&b| b < 0xff) {
        Some(last) => {
            let mut end = prefix[..=last].to_vec();
            end[last] += 1;
            end
        }
        None => vec![0],
    }
}

/// Merges one-node records into one [`ServiceRecord`] per (name, version), nodes in key order, sorted by
/// name then version. The first record of a version supplies its endpoints and metadata.
pub(super) fn merge(records: impl IntoIterator<Item = ServiceRecord>) -> Vec<ServiceRecord> {
    let mut merged: BTreeMap<(String, String), ServiceRecord> = BTreeMap::new();
    for record in records {
        let key = (record.name.clone(), record.version.clone());
        match merged.get_mut(&key) {
            Some(service) => service.nodes.extend(record.nodes),
            None => {
                merged.insert(key, record);
            }
        }
    }
    merged.into_values().collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn service(name: &str, version: &str, node: &str) -> ServiceRecord {
        ServiceRecord {
            name: name.into(),
            version: version.into(),
            nodes: vec![Node {
                id: node.into(),
                address: "10.0.0.1:8080".into(),
                metadata: HashMap::from([("protocol".into(), "mucp".into())]),
            }],
            ..ServiceRecord::default()
        }
    }

    #[test]
    fn prefix_ends_bound_exactly_the_prefix() {
        assert_eq!(prefix_end(b"/micro/registry/"), b"/micro/registry0");
        assert_eq!(prefix_end(b"a\xff\xff"), b"b");
        assert_eq!(prefix_end(b"\xff"), b"\0");
        assert_eq!(prefix_end(b""), b"\0");
    }

    #[test]
    fn keys_follow_go_micro_with_slashes_escaped() {
        assert_eq!(
            node_key("greeter", "greeter-1"),
            "/micro/registry/greeter/greeter-1"
        );
        assert_eq!(node_key("a/b", "c/d/e"), "/micro/registry/a-b/c-d-e");
        assert_eq!(
            service_prefix("go.micro.srv/x"),
            "/micro/registry/go.micro.srv-x/"
        );
    }

    #[test]
    fn values_hold_one_node_in_go_field_order() {
        let mut svc = service("greeter", "latest", "greeter-1");
        svc.nodes.push(Node::default());
        let json = encode(&svc, &svc.nodes[0]);
        assert_eq!(
            json,
            r#"{"name":"greeter","version":"latest","metadata":null,"endpoints":null,"nodes":[{"metadata":{"protocol":"mucp"},"id":"greeter-1","address":"10.0.0.1:8080"}]}"#
        );
        assert_eq!(
            decode(b"k", json.as_bytes()),
            Some(service("greeter", "latest", "greeter-1"))
        );
    }

    #[test]
    fn html_characters_are_escaped_as_go_does() {
        let svc = service("a<b>&c\u{2028}", "v", "n");
        let json = encode(&svc, &svc.nodes[0]);
        assert!(
            json.starts_with(r#"{"name":"a\u003cb\u003e\u0026c\u2028""#),
            "{json}"
        );
        assert_eq!(decode(b"k", json.as_bytes()).unwrap().name, svc.name);
    }

    #[test]
    fn malformed_values_are_skipped() {
        for bad in [
            &b"not json"[..],
            b"{\"name\":",
            b"[]",
            b"{}",
            b"{\"name\":5}",
        ] {
            assert_eq!(decode(b"k", bad), None);
        }
        // Go's nulls decode.
        let go = br#"{"name":"x","version":"","metadata":null,"endpoints":null,"nodes":null}"#;
        assert_eq!(decode(b"k", go).unwrap().name, "x");
    }

    #[test]
    fn merge_groups_by_name_and_version_sorted() {
        let merged = merge([
            service("b", "1", "b1"),
            service("a", "2", "a2"),
            service("a", "1", "a1"),
            service("a", "2", "a2bis"),
        ]);
        let summary: Vec<_> = merged
            .iter()
            .map(|s| {
                let ids: Vec<_> = s.nodes.iter().map(|n| n.id.as_str()).collect();
                (s.name.as_str(), s.version.as_str(), ids)
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("a", "1", vec!["a1"]),
                ("a", "2", vec!["a2", "a2bis"]),
                ("b", "1", vec!["b1"]),
            ]
        );
    }
}
