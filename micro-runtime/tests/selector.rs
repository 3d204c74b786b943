//! Selecting nodes from the memory registry.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use micro_runtime::registry::{Endpoint, MemoryRegistry, Node, Registry, ServiceRecord};
use micro_runtime::selector::{Filter, Random, RoundRobin, Selector};

fn node(id: &str, labels: &[(&str, &str)]) -> Node {
    Node {
        id: id.into(),
        address: format!("{id}:9000"),
        metadata: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

async fn registry_with(services: &[ServiceRecord]) -> Arc<MemoryRegistry> {
    let registry = Arc::new(MemoryRegistry::new());
    for service in services {
        registry.register(service, None).await.unwrap();
    }
    registry
}

fn greeter(version: &str, endpoint: &str, nodes: Vec<Node>) -> ServiceRecord {
    ServiceRecord {
        name: "greeter".into(),
        version: version.into(),
        endpoints: vec![Endpoint {
            name: endpoint.into(),
            ..Endpoint::default()
        }],
        nodes,
        ..ServiceRecord::default()
    }
}

fn three_nodes() -> ServiceRecord {
    greeter(
        "v1",
        "Greeter.Hello",
        vec![node("n1", &[]), node("n2", &[]), node("n3", &[])],
    )
}

async fn selected_ids(selector: &Selector, filters: &[Filter]) -> Vec<String> {
    selector
        .select("greeter", filters)
        .await
        .unwrap()
        .map(|n| n.id)
        .collect()
}

#[tokio::test]
async fn random_yields_every_node_exactly_once() {
    let selector = Selector::new(registry_with(&[three_nodes()]).await, Arc::new(Random));
    for _ in 0..50 {
        let next = selector.select("greeter", &[]).await.unwrap();
        assert_eq!(next.len(), 3);
        let ids: Vec<_> = next.map(|n| n.id).collect();
        let unique: HashSet<_> = ids.iter().cloned().collect();
        assert_eq!((ids.len(), unique.len()), (3, 3), "{ids:?}");
    }
}

#[tokio::test]
async fn random_spreads_over_nodes() {
    let selector = Selector::new(registry_with(&[three_nodes()]).await, Arc::new(Random));
    let mut firsts: HashMap<String, usize> = HashMap::new();
    for _ in 0..3000 {
        let first = selector
            .select("greeter", &[])
            .await
            .unwrap()
            .next()
            .unwrap();
        *firsts.entry(first.id).or_default() += 1;
    }
    // Each node expects 1000 picks; 600 is over 17 standard deviations away, so this never flakes.
    assert_eq!(firsts.len(), 3);
    assert!(firsts.values().all(|&n| n > 600), "{firsts:?}");
}

#[tokio::test]
async fn round_robin_cycles_across_calls() {
    let selector = Selector::new(
        registry_with(&[three_nodes()]).await,
        Arc::new(RoundRobin::new()),
    );
    let mut firsts = Vec::new();
    for _ in 0..6 {
        let ids = selected_ids(&selector, &[]).await;
        assert_eq!(ids.len(), 3);
        firsts.push(ids[0].clone());
    }
    let distinct: HashSet<_> = firsts[..3].iter().collect();
    assert_eq!(distinct.len(), 3, "{firsts:?}");
    assert_eq!(firsts[..3], firsts[3..]);
    // Within one selection the order continues round the ring.
    let ids = selected_ids(&selector, &[]).await;
    let start = ["n1", "n2", "n3"]
        .iter()
        .position(|id| *id == ids[0])
        .unwrap();
    let expected: Vec<_> = (0..3)
        .map(|i| format!("n{}", (start + i) % 3 + 1))
        .collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn version_filter_keeps_that_version() {
    let registry = registry_with(&[
        greeter("v1", "Greeter.Hello", vec![node("old", &[])]),
        greeter("v2", "Greeter.Hello", vec![node("new", &[])]),
    ])
    .await;
    let selector = Selector::new(registry, Arc::new(Random));
    assert_eq!(
        selected_ids(&selector, &[Filter::version("v2")]).await,
        ["new"]
    );
    assert_eq!(selector.select("greeter", &[]).await.unwrap().len(), 2);
}

#[tokio::test]
async fn label_filter_keeps_matching_nodes() {
    let nodes = vec![
        node("eu", &[("zone", "eu")]),
        node("us", &[("zone", "us")]),
        node("bare", &[]),
    ];
    let selector = Selector::new(
        registry_with(&[greeter("v1", "Greeter.Hello", nodes)]).await,
        Arc::new(Random),
    );
    assert_eq!(
        selected_ids(&selector, &[Filter::label("zone", "eu")]).await,
        ["eu"]
    );
}

#[tokio::test]
async fn endpoint_filter_keeps_services_listing_it() {
    let registry = registry_with(&[
        greeter("v1", "Greeter.Hello", vec![node("v1-node", &[])]),
        greeter("v2", "Greeter.Goodbye", vec![node("v2-node", &[])]),
    ])
    .await;
    let selector = Selector::new(registry, Arc::new(Random));
    let filters = [Filter::endpoint("Greeter.Goodbye")];
    assert_eq!(selected_ids(&selector, &filters).await, ["v2-node"]);
}

#[tokio::test]
async fn filters_compose() {
    let registry = registry_with(&[
        greeter(
            "v1",
            "Greeter.Hello",
            vec![node("a", &[("zone", "eu")]), node("b", &[])],
        ),
        greeter("v2", "Greeter.Hello", vec![node("c", &[("zone", "eu")])]),
    ])
    .await;
    let selector = Selector::new(registry, Arc::new(Random));
    let only_a =
        Filter::custom(|services| services.into_iter().filter(|s| s.version == "v1").collect());
    let filters = [Filter::label("zone", "eu"), only_a];
    assert_eq!(selected_ids(&selector, &filters).await, ["a"]);
    assert!(format!("{filters:?}").contains("Custom(..)"));
}

#[tokio::test]
async fn unknown_service_is_not_found() {
    let selector = Selector::new(registry_with(&[]).await, Arc::new(Random));
    let err = selector.select("nobody", &[]).await.unwrap_err();
    assert_eq!((err.code, err.id.as_str()), (404, "go.micro.client"));
    assert_eq!(err.detail, "service nobody: not found");
}

#[tokio::test]
async fn filtered_to_nothing_is_unavailable() {
    let selector = Selector::new(
        registry_with(&[three_nodes()]).await,
        Arc::new(RoundRobin::new()),
    );
    let err = selector
        .select("greeter", &[Filter::version("v9")])
        .await
        .unwrap_err();
    assert_eq!(err.code, 503);
    assert_eq!(err.detail, "error selecting greeter node: none available");
}
