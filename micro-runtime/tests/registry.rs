//! The registry data model (go-micro's JSON) and the memory registry.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use micro_runtime::registry::{
    Action, Endpoint, Event, MemoryRegistry, Node, Registry, ServiceRecord, Value, Watcher,
};

fn node(id: &str, address: &str) -> Node {
    Node {
        id: id.into(),
        address: address.into(),
        metadata: HashMap::from([("protocol".into(), "mucp".into())]),
    }
}

fn service(name: &str, version: &str, nodes: Vec<Node>) -> ServiceRecord {
    ServiceRecord {
        name: name.into(),
        version: version.into(),
        nodes,
        ..ServiceRecord::default()
    }
}

async fn next(watcher: &mut Watcher) -> Event {
    tokio::time::timeout(Duration::from_secs(5), watcher.next())
        .await
        .expect("no event within 5 s")
        .expect("watcher ended")
}

fn ids(service: &ServiceRecord) -> Vec<&str> {
    service.nodes.iter().map(|n| n.id.as_str()).collect()
}

// What a go-micro v5 server writes to etcd under /micro/registry/helloworld/<node-id>: Go's field
// order, sorted map keys, `null` for the unset service metadata and for leaf `values`.
const GO_ETCD_VALUE: &str = r#"{"name":"helloworld","version":"latest","metadata":null,"endpoints":[{"request":{"name":"Request","type":"Request","values":[{"name":"name","type":"string","values":null}]},"response":{"name":"Response","type":"Response","values":[{"name":"msg","type":"string","values":null}]},"metadata":{},"name":"Helloworld.Call"},{"request":{"name":"Context","type":"Context","values":null},"response":{"name":"Stream","type":"Stream","values":null},"metadata":{"stream":"true"},"name":"Helloworld.Stream"},{"request":null,"response":null,"metadata":null,"name":"Helloworld.Handle"}],"nodes":[{"metadata":{"broker":"http","protocol":"mucp","registry":"etcd","server":"mucp","transport":"http"},"id":"helloworld-8f3c9a4e-5b1d-4c2e-9f7a-1d2e3f4a5b6c","address":"10.0.0.5:43567"}]}"#;

#[test]
fn parses_and_round_trips_go_micro_etcd_json() {
    let parsed: ServiceRecord = serde_json::from_str(GO_ETCD_VALUE).unwrap();
    assert_eq!(parsed.name, "helloworld");
    assert_eq!(parsed.metadata, None);
    assert_eq!(parsed.endpoints.len(), 3);
    let call = &parsed.endpoints[0];
    assert_eq!(call.name, "Helloworld.Call");
    assert_eq!(call.request.as_ref().unwrap().values[0].type_name, "string");
    assert!(call.request.as_ref().unwrap().values[0].values.is_empty());
    assert_eq!(parsed.endpoints[1].metadata["stream"], "true");
    assert!(parsed.endpoints[2].metadata.is_empty());
    assert_eq!(parsed.nodes[0].metadata["registry"], "etcd");
    assert_eq!(parsed.nodes[0].address, "10.0.0.5:43567");

    // Our JSON differs from Go's only where Go writes `null` for a nil map (it writes `{}` for an
    // empty one, and we cannot tell the two apart); empty lists are `null` on both sides.
    let ours = serde_json::to_string(&parsed).unwrap();
    let go_with_empties =
        GO_ETCD_VALUE.replace(r#""metadata":null,"name""#, r#""metadata":{},"name""#);
    assert_eq!(ours, go_with_empties);
    assert_eq!(
        serde_json::from_str::<ServiceRecord>(&ours).unwrap(),
        parsed
    );
}

#[test]
fn tolerates_missing_and_null_fields() {
    let parsed: ServiceRecord = serde_json::from_str(
        r#"{"name":"x","endpoints":null,"nodes":[{"id":"a","metadata":null}]}"#,
    )
    .unwrap();
    assert_eq!(parsed.version, "");
    assert!(parsed.endpoints.is_empty());
    assert_eq!(parsed.nodes[0].id, "a");
    assert!(parsed.nodes[0].metadata.is_empty());
    let value: Value = serde_json::from_str(r#"{"name":"n","type":"int64"}"#).unwrap();
    assert_eq!(value.type_name, "int64");
    assert_eq!(
        serde_json::to_string(&Action::Update).unwrap(),
        r#""update""#
    );
    let endpoint = Endpoint {
        name: "A.B".into(),
        ..Endpoint::default()
    };
    assert_eq!(
        serde_json::to_string(&endpoint).unwrap(),
        r#"{"request":null,"response":null,"metadata":{},"name":"A.B"}"#
    );
}

#[tokio::test]
async fn register_get_list_deregister() {
    let registry: Arc<dyn Registry> = Arc::new(MemoryRegistry::new());
    assert_eq!(registry.name(), "memory");
    assert!(registry.get_service("greeter").await.unwrap().is_empty());

    let greeter = service("greeter", "1.0", vec![node("g1", "127.0.0.1:1")]);
    let other = service("alpha", "latest", vec![node("a1", "127.0.0.1:2")]);
    registry.register(&greeter, None).await.unwrap();
    registry.register(&other, None).await.unwrap();
    assert_eq!(
        registry.get_service("greeter").await.unwrap(),
        vec![greeter.clone()]
    );
    let names: Vec<_> = registry
        .list_services()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["alpha", "greeter"]);

    registry.deregister(&greeter).await.unwrap();
    assert!(registry.get_service("greeter").await.unwrap().is_empty());
    assert_eq!(registry.list_services().await.unwrap().len(), 1);
    // Deregistering what is not there is not an error.
    registry.deregister(&greeter).await.unwrap();
}

#[tokio::test]
async fn versions_come_back_as_separate_services_and_nodes_merge() {
    let registry = MemoryRegistry::new();
    registry
        .register(&service("svc", "v1", vec![node("n1", "a:1")]), None)
        .await
        .unwrap();
    registry
        .register(&service("svc", "v1", vec![node("n2", "a:2")]), None)
        .await
        .unwrap();
    registry
        .register(&service("svc", "v2", vec![node("n3", "a:3")]), None)
        .await
        .unwrap();
    let found = registry.get_service("svc").await.unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(
        (found[0].version.as_str(), ids(&found[0])),
        ("v1", vec!["n1", "n2"])
    );
    assert_eq!(
        (found[1].version.as_str(), ids(&found[1])),
        ("v2", vec!["n3"])
    );

    registry
        .deregister(&service("svc", "v1", vec![node("n1", "a:1")]))
        .await
        .unwrap();
    let found = registry.get_service("svc").await.unwrap();
    assert_eq!(ids(&found[0]), ["n2"]);
}

#[tokio::test(start_paused = true)]
async fn ttl_expires_nodes_and_announces_the_delete() {
    let registry = MemoryRegistry::new();
    let mut watcher = registry.watch(None).await.unwrap();
    let svc = service("svc", "v1", vec![node("n1", "a:1")]);
    registry
        .register(&svc, Some(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(next(&mut watcher).await.action, Action::Create);

    tokio::time::sleep(Duration::from_secs(9)).await;
    assert_eq!(registry.get_service("svc").await.unwrap().len(), 1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Invisible the moment the TTL passes, before the sweep runs.
    assert!(registry.get_service("svc").await.unwrap().is_empty());
    let event = next(&mut watcher).await;
    assert_eq!(
        (event.action, ids(&event.service)),
        (Action::Delete, vec!["n1"])
    );
}

#[tokio::test(start_paused = true)]
async fn the_sweep_announces_expiry_without_any_read() {
    let registry = MemoryRegistry::new();
    let mut watcher = registry.watch(Some("svc")).await.unwrap();
    let svc = service("svc", "v1", vec![node("n1", "a:1")]);
    registry
        .register(&svc, Some(Duration::from_secs(3)))
        .await
        .unwrap();
    assert_eq!(next(&mut watcher).await.action, Action::Create);
    let started = tokio::time::Instant::now();
    assert_eq!(next(&mut watcher).await.action, Action::Delete);
    assert!(
        started.elapsed() <= Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn re_register_refreshes_the_ttl_silently() {
    let registry = MemoryRegistry::new();
    let svc = service("svc", "v1", vec![node("n1", "a:1")]);
    let ttl = Some(Duration::from_secs(10));
    registry.register(&svc, ttl).await.unwrap();
    let mut watcher = registry.watch(None).await.unwrap();
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(6)).await;
        registry.register(&svc, ttl).await.unwrap();
    }
    assert_eq!(registry.get_service("svc").await.unwrap().len(), 1);
    // An unchanged re-register is not an event.
    assert!(watcher_is_quiet(&mut watcher).await);
}

async fn watcher_is_quiet(watcher: &mut Watcher) -> bool {
    tokio::time::timeout(Duration::from_millis(10), watcher.next())
        .await
        .is_err()
}

#[tokio::test]
async fn watch_sees_create_update_delete() {
    let registry = MemoryRegistry::new();
    let mut all = registry.watch(None).await.unwrap();
    let mut only_b = registry.watch(Some("b")).await.unwrap();

    registry
        .register(&service("a", "1", vec![node("a1", "h:1")]), None)
        .await
        .unwrap();
    registry
        .register(&service("a", "1", vec![node("a1", "h:2")]), None)
        .await
        .unwrap();
    registry
        .register(&service("b", "1", vec![node("b1", "h:3")]), None)
        .await
        .unwrap();
    registry
        .deregister(&service("a", "1", vec![node("a1", "h:2")]))
        .await
        .unwrap();

    let seen: Vec<_> = [
        next(&mut all).await,
        next(&mut all).await,
        next(&mut all).await,
        next(&mut all).await,
    ]
    .into_iter()
    .map(|e| (e.action, e.service.name, e.service.nodes[0].address.clone()))
    .collect();
    assert_eq!(
        seen,
        [
            (Action::Create, "a".into(), "h:1".into()),
            (Action::Update, "a".into(), "h:2".into()),
            (Action::Create, "b".into(), "h:3".into()),
            (Action::Delete, "a".into(), "h:2".into()),
        ]
    );
    let event = next(&mut only_b).await;
    assert_eq!(
        (event.action, event.service.name.as_str()),
        (Action::Create, "b")
    );
    assert!(watcher_is_quiet(&mut only_b).await);
}

#[tokio::test]
async fn slow_or_dropped_watchers_never_block_the_registry() {
    let registry = MemoryRegistry::new();
    let _slow = registry.watch(None).await.unwrap();
    drop(registry.watch(None).await.unwrap());
    for i in 0..1000 {
        let svc = service("svc", "1", vec![node(&format!("n{i}"), "h:1")]);
        registry.register(&svc, None).await.unwrap();
    }
    assert_eq!(
        registry.get_service("svc").await.unwrap()[0].nodes.len(),
        1000
    );
}

#[tokio::test]
async fn watcher_ends_when_the_registry_is_dropped() {
    let registry = MemoryRegistry::new();
    let mut watcher = registry.watch(None).await.unwrap();
    drop(registry);
    assert!(watcher.next().await.is_none());
}

#[tokio::test]
async fn names_with_slashes_and_unicode_round_trip() {
    let registry = MemoryRegistry::new();
    let name = "go.micro/srv/日本語-サービス";
    let svc = service(name, "β/1", vec![node("ノード/1", "[::1]:9000")]);
    registry.register(&svc, None).await.unwrap();
    assert_eq!(registry.get_service(name).await.unwrap(), vec![svc.clone()]);
    assert_eq!(registry.list_services().await.unwrap(), vec![svc.clone()]);
    let json = serde_json::to_string(&svc).unwrap();
    assert_eq!(serde_json::from_str::<ServiceRecord>(&json).unwrap(), svc);
}

/// The shared snapshot the selector reads is one copy until something changes, and every change
/// (register, deregister, TTL expiry) is visible at once.
#[tokio::test(start_paused = true)]
async fn shared_snapshots_follow_every_change() {
    let registry = MemoryRegistry::new();
    assert!(registry.get_service_shared("svc").await.unwrap().is_empty());
    let one = service("svc", "v1", vec![node("n1", "a:1")]);
    registry.register(&one, None).await.unwrap();
    let first = registry.get_service_shared("svc").await.unwrap();
    assert_eq!(ids(&first[0]), ["n1"]);
    let again = registry.get_service_shared("svc").await.unwrap();
    assert!(Arc::ptr_eq(&first, &again), "unchanged: the same snapshot");

    let two = service("svc", "v1", vec![node("n2", "a:2")]);
    registry
        .register(&two, Some(Duration::from_secs(10)))
        .await
        .unwrap();
    let both = registry.get_service_shared("svc").await.unwrap();
    assert_eq!(ids(&both[0]), ["n1", "n2"]);

    registry.deregister(&one).await.unwrap();
    assert_eq!(
        ids(&registry.get_service_shared("svc").await.unwrap()[0]),
        ["n2"]
    );

    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(registry.get_service_shared("svc").await.unwrap().is_empty());
}
