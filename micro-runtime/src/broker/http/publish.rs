//! Publishing: finding a topic's subscribers in the registry and queueing the message for them.
//!
//! The subscribers of a topic are the nodes of [`SERVICE_NAME`] whose metadata says
//! `broker=http` and `topic=<topic>`. The broadcast version's nodes each get the message; every
//! other version is a queue group and gets it once, on one member (go-micro's rule). Lookups go
//! through the selector's cache, kept fresh by a registry watch, unless the registry answers from
//! memory anyway.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;

use super::outbox::{Outbox, Queued};
use super::target::TargetKey;
use super::{BROADCAST_VERSION, Options, SERVICE_NAME};
use crate::broker::{Message, TOPIC_HEADER, broker_error, check_topic, encode_envelope};
use crate::error::LocalError;
use crate::registry::{Node, Registry, Service};
use crate::selector::{Cache, DEFAULT_CACHE_TTL};

/// Where publishers read the subscriber records.
pub(super) enum Lookup {
    Cached(Cache),
    Direct(Arc<dyn Registry>),
}

impl Lookup {
    pub(super) fn new(registry: Arc<dyn Registry>) -> Self {
        if registry.needs_cache() {
            Lookup::Cached(Cache::new(registry, DEFAULT_CACHE_TTL))
        } else {
            Lookup::Direct(registry)
        }
    }

    /// Every version of [`SERVICE_NAME`]. A cached copy serves while the registry fails.
    pub(super) async fn services(&self) -> Result<Arc<[Service]>, LocalError> {
        match self {
            Lookup::Cached(cache) => cache.get(SERVICE_NAME).await,
            Lookup::Direct(registry) => registry.get_service_shared(SERVICE_NAME).await,
        }
    }
}

/// Queues `message` for every subscriber of `topic`; see [`HttpBroker`](super::HttpBroker)'s
/// `publish`.
pub(super) async fn publish(
    outbox: &Arc<Outbox>,
    options: &Arc<Options>,
    topic: &str,
    mut message: Message,
) -> Result<(), LocalError> {
    check_topic(topic)?;
    let services = outbox.lookup().services().await.map_err(|err| {
        broker_error(format!(
            "cannot publish to {topic}: looking up {SERVICE_NAME} in the registry failed"
        ))
        .with_source(err)
    })?;
    let targets = targets(&services, topic);
    if targets.is_empty() {
        tracing::trace!(%topic, "no subscribers; message dropped");
        return Ok(());
    }
    // As go-micro: the topic travels in the envelope, and the envelope is encoded once.
    message
        .header
        .insert(TOPIC_HEADER.to_string(), topic.to_string());
    let envelope = Bytes::from(encode_envelope(&message));
    let queued = Queued::new(topic, message.id(), envelope);
    for (key, node) in targets {
        outbox.enqueue(key, node, queued.clone(), options);
    }
    Ok(())
}

/// Who gets a message on `topic`: each broadcast node (with the node, to start its queue) and
/// each queue group.
pub(super) fn targets(services: &[Service], topic: &str) -> Vec<(TargetKey, Option<Node>)> {
    let mut out = Vec::new();
    for service in services {
        let mut nodes = subscribers(service, topic).peekable();
        if service.version == BROADCAST_VERSION {
            for node in nodes {
                let key = TargetKey::Node {
                    topic: topic.to_string(),
                    id: node.id.clone(),
                };
                if !out.iter().any(|(k, _)| *k == key) {
                    out.push((key, Some(node.clone())));
                }
            }
        } else if nodes.peek().is_some() {
            let key = TargetKey::Group {
                topic: topic.to_string(),
                group: service.version.clone(),
            };
            out.push((key, None));
        }
    }
    out
}

/// The broadcast node `id` of `topic`, if it is still registered.
pub(super) fn broadcast_node(services: &[Service], topic: &str, id: &str) -> Option<Node> {
    services
        .iter()
        .filter(|s| s.version == BROADCAST_VERSION)
        .flat_map(|s| subscribers(s, topic))
        .find(|node| node.id == id)
        .cloned()
}

/// The members of queue group `group` on `topic`.
pub(super) fn group_members<'a>(
    services: &'a [Service],
    topic: &str,
    group: &str,
) -> Vec<&'a Node> {
    services
        .iter()
        .filter(|s| s.version == group)
        .flat_map(|s| subscribers(s, topic))
        .collect()
}

fn subscribers<'a>(service: &'a Service, topic: &str) -> impl Iterator<Item = &'a Node> {
    service
        .nodes
        .iter()
        .filter(move |node| subscribes(node, topic))
}

fn subscribes(node: &Node, topic: &str) -> bool {
    let metadata = |key: &str| node.metadata.get(key).map(String::as_str);
    if metadata("broker") != Some("http") || metadata("topic") != Some(topic) {
        return false;
    }
    // go-micro's `Secure`/`TLSConfig` options serve the inbox over TLS, which we do not speak:
    // such a node would only ever fail, so it is left out, and said so once.
    if metadata("secure") == Some("true") {
        static WARNED: AtomicBool = AtomicBool::new(false);
        if !WARNED.swap(true, Ordering::Relaxed) {
            tracing::warn!(node = %node.id, %topic, "HTTP broker: skipping subscribers registered with secure=true; TLS inboxes are not supported");
        }
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, topic: &str, broker: &str) -> Node {
        let metadata = [("broker", broker), ("topic", topic)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Node {
            id: id.to_string(),
            address: format!("{id}:1"),
            metadata,
        }
    }

    fn service(version: &str, nodes: Vec<Node>) -> Service {
        Service {
            name: SERVICE_NAME.to_string(),
            version: version.to_string(),
            nodes,
            ..Service::default()
        }
    }

    #[test]
    fn every_broadcast_node_and_one_target_per_group() {
        let mut secure = node("s1", "t", "http");
        secure.metadata.insert("secure".into(), "true".into());
        let services = [
            service(
                BROADCAST_VERSION,
                vec![
                    node("a", "t", "http"),
                    node("b", "t", "http"),
                    node("c", "u", "http"),
                ],
            ),
            service(
                "workers",
                vec![node("w1", "t", "http"), node("w2", "t", "http")],
            ),
            service("others", vec![node("o1", "u", "http")]),
            service("nats", vec![node("n1", "t", "nats")]),
            service("tls", vec![secure]),
        ];
        let keys: Vec<_> = targets(&services, "t")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let node_key = |id: &str| TargetKey::Node {
            topic: "t".into(),
            id: id.into(),
        };
        let group = TargetKey::Group {
            topic: "t".into(),
            group: "workers".into(),
        };
        assert_eq!(keys, [node_key("a"), node_key("b"), group]);
        assert_eq!(group_members(&services, "t", "workers").len(), 2);
        assert!(broadcast_node(&services, "t", "c").is_none());
        assert_eq!(broadcast_node(&services, "u", "c").unwrap().address, "c:1");
    }
}
