//! Publishing: finding a topic's subscribers in the registry and queueing the message for them,
//! waiting for room where a healthy subscriber's queue is full (`backpressure.rs`).
//!
//! The subscribers of a topic are the nodes of [`SERVICE_NAME`] whose metadata says
//! `broker=http` and `topic=<topic>`. The broadcast version's nodes each get the message; every
//! other version is a queue group and gets it once, on one member (go-micro's rule). Lookups go
//! through the selector's cache, kept fresh by a registry watch, unless the registry answers from
//! memory anyway.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;

use super::outbox::{Outbox, Pushed, Queued};
use super::{BROADCAST_VERSION, Options, SERVICE_NAME};
use crate::broker::{Message, TOPIC_HEADER, broker_error, check_publish, encode_envelope};
use crate::error::LocalError;
use crate::registry::{Cache, DEFAULT_CACHE_TTL};
use crate::registry::{Node, Registry, ServiceRecord};

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
    pub(super) async fn services(&self) -> Result<Arc<[ServiceRecord]>, LocalError> {
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
    check_publish(topic, &message)?;
    // As go-micro: the topic travels in the envelope, and the envelope is encoded once.
    message
        .header
        .insert(TOPIC_HEADER.to_string(), topic.to_string());
    let envelope = Bytes::from(encode_envelope(&message));
    // An inbox refuses it (413) anyway: say so here, where the caller can act on it.
    let limit = options.limits.max_message_bytes;
    if envelope.len() > limit {
        return Err(broker_error(format!(
            "cannot publish to {topic}: the message is {} bytes as JSON, over the {limit}-byte limit",
            envelope.len()
        )));
    }
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
    let queued = Queued::new(topic, message.id(), envelope, outbox.rounds().ticket());
    let mut waits = Vec::new();
    for target in targets {
        let pushed = match target {
            Target::Node(node) => outbox.to_node(node, queued.clone(), options),
            Target::Group { name, members } => {
                outbox.to_group(&members, None, queued.for_group(name), options)
            }
        };
        if let Pushed::Wait(wait) = pushed {
            waits.push(wait.run(options.reply_timeout));
        }
    }
    // Side by side, so that waiting on several full queues takes one timeout at most.
    if !waits.is_empty() {
        futures_util::future::join_all(waits).await;
    }
    Ok(())
}

/// Who gets a message: a broadcast node, or one of a queue group's members.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Target<'a> {
    Node(&'a Node),
    Group {
        name: &'a str,
        members: Vec<&'a Node>,
    },
}

/// Who gets a message on `topic`: each broadcast node once, and each queue group once, with its
/// members (a registry may list a version more than once).
pub(super) fn targets<'a>(services: &'a [ServiceRecord], topic: &str) -> Vec<Target<'a>> {
    let mut out: Vec<Target<'a>> = Vec::new();
    for service in services {
        let version = service.version.as_str();
        for node in subscribers(service, topic) {
            let known = out.iter_mut().find(|target| match target {
                Target::Node(known) => version == BROADCAST_VERSION && known.id == node.id,
                Target::Group { name, .. } => *name == version,
            });
            match known {
                Some(Target::Group { members, .. }) => {
                    if !members.iter().any(|m| m.id == node.id) {
                        members.push(node);
                    }
                }
                Some(Target::Node(_)) => {}
                None if version == BROADCAST_VERSION => out.push(Target::Node(node)),
                None => out.push(Target::Group {
                    name: version,
                    members: vec![node],
                }),
            }
        }
    }
    out
}

/// The broadcast node `id` of `topic`, if it is still registered.
pub(super) fn broadcast_node(services: &[ServiceRecord], topic: &str, id: &str) -> Option<Node> {
    services
        .iter()
        .filter(|s| s.version == BROADCAST_VERSION)
        .flat_map(|s| subscribers(s, topic))
        .find(|node| node.id == id)
        .cloned()
}

/// The members of queue group `group` on `topic`.
pub(super) fn group_members<'a>(
    services: &'a [ServiceRecord],
    topic: &str,
    group: &str,
) -> Vec<&'a Node> {
    let mut members: Vec<&Node> = Vec::new();
    for node in services
        .iter()
        .filter(|s| s.version == group)
        .flat_map(|s| subscribers(s, topic))
    {
        if !members.iter().any(|m| m.id == node.id) {
            members.push(node);
        }
    }
    members
}

fn subscribers<'a>(service: &'a ServiceRecord, topic: &str) -> impl Iterator<Item = &'a Node> {
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

    fn service(version: &str, nodes: Vec<Node>) -> ServiceRecord {
        ServiceRecord {
            name: SERVICE_NAME.to_string(),
            version: version.to_string(),
            nodes,
            ..ServiceRecord::default()
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
            // Listed twice, as a registry merging records may: still one target each.
            service(
                "workers",
                vec![node("w2", "t", "http"), node("w3", "t", "http")],
            ),
            service(BROADCAST_VERSION, vec![node("a", "t", "http")]),
        ];
        let (a, b, w1, w2, w3) = (
            &services[0].nodes[0],
            &services[0].nodes[1],
            &services[1].nodes[0],
            &services[1].nodes[1],
            &services[5].nodes[1],
        );
        let group = Target::Group {
            name: "workers",
            members: vec![w1, w2, w3],
        };
        assert_eq!(
            targets(&services, "t"),
            [Target::Node(a), Target::Node(b), group]
        );
        assert_eq!(group_members(&services, "t", "workers").len(), 3);
        assert!(broadcast_node(&services, "t", "c").is_none());
        assert_eq!(broadcast_node(&services, "u", "c").unwrap().address, "c:1");
    }
}
