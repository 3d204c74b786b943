//! The etcd registry against real etcd processes on loopback: go-micro's exact keys and values,
//! leases and keepalives, watches, a cluster losing a member, an unreachable cluster, and a call
//! found through etcd.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use micro_runtime::registry::{
    Action, Endpoint, EtcdOptions, EtcdRegistry, Event, Node, Registry, ServiceRecord, Value,
    Watcher,
};
use micro_runtime::{Client, LocalErrorKind};
use tests::etcd::{EtcdCluster, EtcdServer};
use tests::handlers::Greeter;
use tests::proto::greeter::{GreeterClient, GreeterServer, HelloRequest};
use tokio::time::{Instant, timeout};

// The bound on every wait for something that should happen.
const WAIT: Duration = Duration::from_secs(10);

fn registry(options: EtcdOptions) -> EtcdRegistry {
    EtcdRegistry::new(options).expect("valid options")
}

fn node(id: &str, port: u16) -> Node {
    Node {
        id: id.into(),
        address: format!("127.0.0.1:{port}"),
        metadata: HashMap::from([
            ("protocol".into(), "mucp".into()),
            ("registry".into(), "etcd".into()),
        ]),
    }
}

fn service(name: &str, nodes: Vec<Node>) -> ServiceRecord {
    ServiceRecord {
        name: name.into(),
        version: "latest".into(),
        nodes,
        ..ServiceRecord::default()
    }
}

async fn next_event(watcher: &mut Watcher) -> Event {
    timeout(WAIT, watcher.next())
        .await
        .expect("an event in time")
        .expect("the watcher is open")
}

async fn raw(address: &str) -> etcd_client::Client {
    etcd_client::Client::connect([address], None)
        .await
        .expect("raw etcd client")
}

/// The registry's (only) node ids for `name`, across versions.
async fn node_ids(registry: &EtcdRegistry, name: &str) -> Vec<String> {
    let services = registry.get_service(name).await.expect("get_service");
    services
        .iter()
        .flat_map(|s| s.nodes.iter().map(|n| n.id.clone()))
        .collect()
}

#[tokio::test]
async fn registers_gets_and_lists() {
    let etcd = EtcdServer::start().await;
    let registry = registry(etcd.options());
    assert_eq!(registry.name(), "etcd");
    assert!(registry.get_service("greeter").await.unwrap().is_empty());

    let one = service("greeter", vec![node("greeter-1", 9001)]);
    let two = service("greeter", vec![node("greeter-2", 9002)]);
    let mut v2 = service("greeter", vec![node("greeter-3", 9003)]);
    v2.version = "2".into();
    let other = service("other", vec![node("other-1", 9100)]);
    for s in [&one, &two, &v2, &other] {
        registry.register(s, None).await.unwrap();
    }

    let got = registry.get_service("greeter").await.unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].version, "2");
    assert_eq!(got[0].nodes, v2.nodes);
    assert_eq!(got[1].version, "latest");
    assert_eq!(got[1].nodes, [one.nodes[0].clone(), two.nodes[0].clone()]);

    let listed = registry.list_services().await.unwrap();
    let summary: Vec<_> = listed
        .iter()
        .map(|s| (s.name.as_str(), s.version.as_str(), s.nodes.len()))
        .collect();
    assert_eq!(
        summary,
        [
            ("greeter", "2", 1),
            ("greeter", "latest", 2),
            ("other", "latest", 1)
        ]
    );

    registry.deregister(&one).await.unwrap();
    let ids = node_ids(&registry, "greeter").await;
    assert_eq!(ids, ["greeter-3", "greeter-2"]);
}

// What a go-micro server writes for a greeter (rpc_server.go + extractor.go), byte for byte.
const GO_VALUE: &str = r#"{"name":"greeter","version":"latest","metadata":null,"endpoints":[{"request":{"name":"Request","type":"Request","values":[{"name":"name","type":"string","values":null}]},"response":{"name":"Response","type":"Response","values":[{"name":"msg","type":"string","values":null}]},"metadata":{},"name":"Greeter.Hello"}],"nodes":[{"metadata":{"broker":"http","protocol":"mucp","registry":"etcd","server":"mucp","transport":"http"},"id":"greeter-8a7f2c1e-0d51-4b9a-9c1f-2f6f1f0b7a11","address":"10.0.0.7:8080"}]}"#;

fn go_greeter() -> ServiceRecord {
    let leaf = |name: &str| Value {
        name: name.into(),
        type_name: "string".into(),
        values: Vec::new(),
    };
    let message = |name: &str, field: &str| Value {
        name: name.into(),
        type_name: name.into(),
        values: vec![leaf(field)],
    };
    ServiceRecord {
        name: "greeter".into(),
        version: "latest".into(),
        metadata: None,
        endpoints: vec![Endpoint {
            request: Some(message("Request", "name")),
            response: Some(message("Response", "msg")),
            metadata: HashMap::new(),
            name: "Greeter.Hello".into(),
        }],
        nodes: vec![Node {
            id: "greeter-8a7f2c1e-0d51-4b9a-9c1f-2f6f1f0b7a11".into(),
            address: "10.0.0.7:8080".into(),
            metadata: ["broker", "protocol", "registry", "server", "transport"]
                .into_iter()
                .zip(["http", "mucp", "etcd", "mucp", "http"])
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }],
    }
}

#[tokio::test]
async fn writes_the_key_and_value_go_micro_writes() {
    let etcd = EtcdServer::start().await;
    let registry = registry(etcd.options());
    registry
        .register(&go_greeter(), Some(Duration::from_secs(90)))
        .await
        .unwrap();

    let mut raw = raw(&etcd.client_address()).await;
    let reply = raw
        .get(
            "/micro/registry/",
            Some(etcd_client::GetOptions::new().with_prefix()),
        )
        .await
        .unwrap();
    assert_eq!(reply.kvs().len(), 1);
    let kv = &reply.kvs()[0];
    assert_eq!(
        kv.key_str().unwrap(),
        "/micro/registry/greeter/greeter-8a7f2c1e-0d51-4b9a-9c1f-2f6f1f0b7a11"
    );
    // Byte for byte what go-micro writes.
    assert_eq!(kv.value_str().unwrap(), GO_VALUE);

    // A lease of the TTL in whole seconds holds the key.
    assert_ne!(kv.lease(), 0);
    let lease = raw.lease_time_to_live(kv.lease(), None).await.unwrap();
    assert_eq!(lease.granted_ttl(), 90);

    // No TTL, no lease.
    let plain = service("plain", vec![node("plain-1", 1)]);
    registry.register(&plain, None).await.unwrap();
    let reply = raw
        .get("/micro/registry/plain/plain-1", None)
        .await
        .unwrap();
    assert_eq!(reply.kvs()[0].lease(), 0);
}

#[tokio::test]
async fn reads_what_go_micro_writes() {
    let etcd = EtcdServer::start().await;
    let mut raw = raw(&etcd.client_address()).await;
    raw.put(
        "/micro/registry/greeter/greeter-8a7f2c1e-0d51-4b9a-9c1f-2f6f1f0b7a11",
        GO_VALUE,
        None,
    )
    .await
    .unwrap();
    let registry = registry(etcd.options());
    assert_eq!(
        registry.get_service("greeter").await.unwrap(),
        [go_greeter()]
    );
}

#[tokio::test]
async fn an_unchanged_re_register_writes_nothing() {
    let etcd = EtcdServer::start().await;
    let registry = registry(etcd.options());
    let watching = self::registry(etcd.options());
    let mut watcher = watching.watch(Some("greeter")).await.unwrap();
    let mut raw = raw(&etcd.client_address()).await;
    let ttl = Some(Duration::from_secs(30));

    let mut greeter = service("greeter", vec![node("greeter-1", 9001)]);
    registry.register(&greeter, ttl).await.unwrap();
    assert_eq!(next_event(&mut watcher).await.action, Action::Create);
    let revision = |reply: etcd_client::GetResponse| reply.header().unwrap().revision();
    let before = revision(raw.get("/micro", None).await.unwrap());

    for _ in 0..5 {
        registry.register(&greeter, ttl).await.unwrap();
    }
    let after = revision(raw.get("/micro", None).await.unwrap());
    assert_eq!(before, after, "an unchanged re-register wrote to etcd");

    // The next event is the change below, so the re-registers above produced none.
    greeter.nodes[0].metadata.insert("zone".into(), "b".into());
    registry.register(&greeter, ttl).await.unwrap();
    let event = next_event(&mut watcher).await;
    assert_eq!(event.action, Action::Update);
    assert_eq!(event.service.nodes, greeter.nodes);
}

#[tokio::test]
async fn watch_sees_create_update_and_delete() {
    let etcd = EtcdServer::start().await;
    let registry = registry(etcd.options());
    let watching = self::registry(etcd.options());
    let mut one = watching.watch(Some("greeter")).await.unwrap();
    let mut all = watching.watch(None).await.unwrap();

    let mut greeter = service("greeter", vec![node("greeter-1", 9001)]);
    registry
        .register(&greeter, Some(Duration::from_secs(30)))
        .await
        .unwrap();
    for watcher in [&mut one, &mut all] {
        let event = next_event(watcher).await;
        assert_eq!(event.action, Action::Create);
        assert_eq!(event.service, greeter);
    }

    greeter.nodes[0].metadata.insert("zone".into(), "b".into());
    registry
        .register(&greeter, Some(Duration::from_secs(30)))
        .await
        .unwrap();
    for watcher in [&mut one, &mut all] {
        let event = next_event(watcher).await;
        assert_eq!(event.action, Action::Update);
        assert_eq!(event.service, greeter);
    }

    // Another service: only the unfiltered watcher sees it.
    let other = service("other", vec![node("other-1", 9100)]);
    registry.register(&other, None).await.unwrap();
    assert_eq!(next_event(&mut all).await.service.name, "other");

    registry.deregister(&greeter).await.unwrap();
    for watcher in [&mut one, &mut all] {
        let event = next_event(watcher).await;
        assert_eq!(event.action, Action::Delete);
        // Decoded from the previous value: the node as it last was.
        assert_eq!(event.service, greeter);
    }
}

#[tokio::test]
async fn a_dropped_registry_lets_its_nodes_expire() {
    let etcd = EtcdServer::start().await;
    let watching = registry(etcd.options());
    let mut watcher = watching.watch(Some("ttl")).await.unwrap();
    let registry = registry(etcd.options());
    let ttl = service("ttl", vec![node("ttl-1", 9001)]);
    registry
        .register(&ttl, Some(Duration::from_secs(2)))
        .await
        .unwrap();
    assert_eq!(next_event(&mut watcher).await.action, Action::Create);

    // Dropping the last clone stops the keepalive without deleting, as a crashed process would.
    let stopped = Instant::now();
    drop(registry);
    let event = next_event(&mut watcher).await;
    let elapsed = stopped.elapsed();
    assert_eq!(event.action, Action::Delete);
    assert_eq!(event.service, ttl);
    assert!(
        elapsed > Duration::from_millis(1000),
        "expired after {elapsed:?}"
    );
    assert!(watching.get_service("ttl").await.unwrap().is_empty());
}

#[tokio::test]
async fn the_keepalive_holds_a_node_past_its_ttl() {
    let etcd = EtcdServer::start().await;
    let registry = registry(etcd.options());
    let mut watcher = registry.watch(Some("held")).await.unwrap();
    let held = service("held", vec![node("held-1", 9001)]);
    registry
        .register(&held, Some(Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(next_event(&mut watcher).await.action, Action::Create);
    // Waiting for nothing to happen: three TTLs without a Delete.
    let nothing = timeout(Duration::from_secs(3), watcher.next()).await;
    assert!(nothing.is_err(), "unexpected event: {nothing:?}");
    assert_eq!(node_ids(&registry, "held").await, ["held-1"]);
}

#[tokio::test]
async fn a_lost_lease_is_recreated_by_the_next_register() {
    let etcd = EtcdServer::start().await;
    let registry = registry(etcd.options());
    let mut watcher = registry.watch(Some("lost")).await.unwrap();
    let lost = service("lost", vec![node("lost-1", 9001)]);
    let ttl = Some(Duration::from_secs(3));
    registry.register(&lost, ttl).await.unwrap();
    assert_eq!(next_event(&mut watcher).await.action, Action::Create);

    // Someone revokes the lease (or etcd lost it): the key goes at once.
    let mut raw = raw(&etcd.client_address()).await;
    let kv = raw.get("/micro/registry/lost/lost-1", None).await.unwrap();
    raw.lease_revoke(kv.kvs()[0].lease()).await.unwrap();
    assert_eq!(next_event(&mut watcher).await.action, Action::Delete);

    // The keepalive notices on its next refresh (a third of the TTL); until then a register
    // may still skip. Each attempt waits for the Create it should cause.
    let deadline = Instant::now() + WAIT;
    loop {
        registry.register(&lost, ttl).await.unwrap();
        if let Ok(Some(event)) = timeout(Duration::from_millis(300), watcher.next()).await {
            assert_eq!(event.action, Action::Create);
            break;
        }
        assert!(Instant::now() < deadline, "the node was never re-created");
    }
    assert_eq!(node_ids(&registry, "lost").await, ["lost-1"]);
}

#[tokio::test]
async fn malformed_values_are_skipped() {
    let etcd = EtcdServer::start().await;
    let registry = registry(etcd.options());
    let mut watcher = registry.watch(None).await.unwrap();
    let mut raw = raw(&etcd.client_address()).await;
    for (key, value) in [
        ("/micro/registry/greeter/bad-1", "not json"),
        ("/micro/registry/greeter/bad-2", r#"{"name":5}"#),
        (
            "/micro/registry/greeter/bad-3",
            r#"{"name":"greeter","nodes":{}}"#,
        ),
        ("/micro/registry/greeter/bad-4", ""),
        ("/micro/registry/junk", "\u{0}\u{1}binary"),
    ] {
        raw.put(key, value, None).await.unwrap();
    }
    let good = service("greeter", vec![node("greeter-1", 9001)]);
    registry.register(&good, None).await.unwrap();

    // The watcher skipped the malformed writes: the first event is the good one.
    let event = next_event(&mut watcher).await;
    assert_eq!(
        (event.action, event.service),
        (Action::Create, good.clone())
    );
    assert_eq!(
        registry.get_service("greeter").await.unwrap(),
        std::slice::from_ref(&good)
    );
    assert_eq!(registry.list_services().await.unwrap(), [good]);

    // Deleting a malformed value is skipped too.
    raw.delete("/micro/registry/greeter/bad-1", None)
        .await
        .unwrap();
    registry
        .register(&service("next", vec![node("next-1", 1)]), None)
        .await
        .unwrap();
    assert_eq!(next_event(&mut watcher).await.service.name, "next");
}

#[tokio::test]
async fn names_with_slashes_and_unicode_round_trip() {
    let etcd = EtcdServer::start().await;
    let registry = registry(etcd.options());
    let mut raw = raw(&etcd.client_address()).await;

    let slashed = service("go.micro/srv/grüße", vec![node("node/1", 9001)]);
    let unicode = service("サービス", vec![node("ノード-1", 9002)]);
    // Escapes to the same prefix as `slashed`: the decoded name tells them apart.
    let dashed = service("go.micro-srv-grüße", vec![node("node-2", 9003)]);
    let mut watcher = registry.watch(Some(&slashed.name)).await.unwrap();
    for s in [&dashed, &slashed, &unicode] {
        registry.register(s, None).await.unwrap();
    }

    let keys = raw
        .get(
            "/micro/registry/",
            Some(
                etcd_client::GetOptions::new()
                    .with_prefix()
                    .with_keys_only(),
            ),
        )
        .await
        .unwrap();
    let keys: Vec<_> = keys
        .kvs()
        .iter()
        .map(|kv| kv.key_str().unwrap().to_string())
        .collect();
    assert!(
        keys.contains(&"/micro/registry/go.micro-srv-grüße/node-1".to_string()),
        "{keys:?}"
    );
    assert!(
        keys.contains(&"/micro/registry/サービス/ノード-1".to_string()),
        "{keys:?}"
    );

    assert_eq!(
        registry.get_service(&slashed.name).await.unwrap(),
        std::slice::from_ref(&slashed)
    );
    assert_eq!(
        registry.get_service(&dashed.name).await.unwrap(),
        std::slice::from_ref(&dashed)
    );
    assert_eq!(
        registry.get_service(&unicode.name).await.unwrap(),
        std::slice::from_ref(&unicode)
    );
    assert_eq!(registry.list_services().await.unwrap().len(), 3);
    // The watch on the slashed name saw only its own node.
    let event = next_event(&mut watcher).await;
    assert_eq!(event.service, slashed);
    registry.deregister(&slashed).await.unwrap();
    assert_eq!(next_event(&mut watcher).await.action, Action::Delete);
}

#[tokio::test]
async fn unreachable_etcd_fails_within_the_dial_timeout() {
    // A closed port: nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    // A silent port: connections are accepted by the kernel but nothing ever answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();

    let dial_timeout = Duration::from_millis(500);
    for address in [&closed_addr, &silent_addr] {
        let registry = registry(
            EtcdOptions::default()
                .endpoints(vec![address.clone()])
                .dial_timeout(dial_timeout),
        );
        let started = Instant::now();
        let err = registry.get_service("greeter").await.unwrap_err();
        let elapsed = started.elapsed();
        assert_eq!(err.kind(), LocalErrorKind::Registry);
        assert!(err.to_string().contains(address.as_str()), "{err}");
        assert!(
            elapsed < dial_timeout + Duration::from_millis(500),
            "{address}: took {elapsed:?}"
        );
        // Every operation fails the same way, and none hangs.
        let node = service("greeter", vec![node("greeter-1", 1)]);
        for result in [
            timeout(WAIT, registry.register(&node, None)).await,
            timeout(WAIT, registry.deregister(&node)).await,
            timeout(WAIT, registry.list_services())
                .await
                .map(|r| r.map(drop)),
            timeout(WAIT, registry.watch(None))
                .await
                .map(|r| r.map(drop)),
        ] {
            assert_eq!(
                result.expect("no hang").unwrap_err().kind(),
                LocalErrorKind::Registry
            );
        }
    }
    drop(silent);
}

#[tokio::test]
async fn a_registry_recovers_when_etcd_comes_back() {
    let mut etcd = EtcdServer::start().await;
    let (dial_timeout, op_timeout) = (Duration::from_secs(1), Duration::from_secs(2));
    let registry = registry(
        etcd.options()
            .dial_timeout(dial_timeout)
            .timeout(op_timeout),
    );
    let held = service("held", vec![node("held-1", 9001)]);
    registry
        .register(&held, Some(Duration::from_secs(3)))
        .await
        .unwrap();

    etcd.kill();
    // The first failure takes at most the op timeout; it drops the connection, so the next
    // operation dials again and fails within the dial timeout.
    let started = Instant::now();
    let err = registry.get_service("held").await.unwrap_err();
    assert_eq!(err.kind(), LocalErrorKind::Registry);
    assert!(
        started.elapsed() < op_timeout + Duration::from_millis(500),
        "{err}"
    );
    let started = Instant::now();
    let err = registry.list_services().await.unwrap_err();
    assert!(err.to_string().contains(&etcd.client_address()), "{err}");
    assert!(
        started.elapsed() < dial_timeout + Duration::from_millis(500),
        "{err}"
    );

    etcd.restart().await;
    let restarted = Instant::now();
    let mut watcher = registry.watch(Some("held")).await.unwrap();
    assert_eq!(node_ids(&registry, "held").await, ["held-1"]);
    let fresh = service("held", vec![node("held-2", 9002)]);
    registry.register(&fresh, None).await.unwrap();
    assert_eq!(next_event(&mut watcher).await.action, Action::Create);
    println!("recovered {:?} after etcd restarted", restarted.elapsed());

    // The keepalive reconnected by itself: the first node outlives its 3 s TTL. (A fixed wait:
    // what is checked is that no Delete comes.)
    let nothing = timeout(Duration::from_secs(4), watcher.next()).await;
    assert!(nothing.is_err(), "unexpected event: {nothing:?}");
}

#[test]
fn bad_options_are_config_errors() {
    for endpoints in [vec![], vec!["host:port".to_string()], vec!["".to_string()]] {
        let err = EtcdRegistry::new(EtcdOptions::default().endpoints(endpoints)).unwrap_err();
        assert_eq!(err.kind(), LocalErrorKind::Config);
    }
    let registry = EtcdRegistry::new(
        EtcdOptions::default()
            .username(Some("root".into()))
            .password(Some("hunter2".into())),
    )
    .unwrap();
    assert!(!format!("{registry:?}").contains("hunter2"));
}

#[tokio::test]
async fn a_watcher_ends_when_etcd_goes_away() {
    let etcd = EtcdServer::start().await;
    let registry = registry(etcd.options());
    let mut watcher = registry.watch(None).await.unwrap();
    drop(etcd); // SIGKILL
    let end = timeout(WAIT, watcher.next())
        .await
        .expect("the watcher ends");
    assert_eq!(end, None);
}

#[tokio::test]
async fn a_cluster_keeps_working_when_its_leader_dies() {
    survives_losing_a_member(true).await;
}

#[tokio::test]
async fn a_cluster_keeps_working_when_a_follower_dies() {
    survives_losing_a_member(false).await;
}

async fn survives_losing_a_member(leader: bool) {
    let mut cluster = EtcdCluster::start(3).await;
    let registry = registry(cluster.options());
    let first = service("first", vec![node("first-1", 9001)]);
    let ttl = Some(Duration::from_secs(2));
    registry.register(&first, ttl).await.unwrap();
    assert_eq!(node_ids(&registry, "first").await, ["first-1"]);

    // Losing the leader is the worst case: requests in flight wait for an election.
    let mut victim = None;
    for (index, endpoint) in cluster.endpoints().iter().enumerate() {
        let status = raw(endpoint).await.status().await.unwrap();
        let is_leader = status.leader() == status.header().unwrap().member_id();
        if is_leader == leader {
            victim = Some(index);
        }
    }
    cluster.kill(victim.expect("a member to kill"));
    let killed = Instant::now();

    let second = service("second", vec![node("second-1", 9002)]);
    registry.register(&second, ttl).await.unwrap();
    assert_eq!(node_ids(&registry, "second").await, ["second-1"]);
    assert_eq!(node_ids(&registry, "first").await, ["first-1"]);
    let role = if leader { "the leader" } else { "a follower" };
    println!(
        "cluster: register + two reads after killing {role} took {:?}",
        killed.elapsed()
    );

    // The keepalives moved to live members: both nodes outlive their 2 s TTL. (A fixed wait:
    // what is checked is that nothing happens.)
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(node_ids(&registry, "first").await, ["first-1"]);
    assert_eq!(node_ids(&registry, "second").await, ["second-1"]);
    assert_eq!(registry.list_services().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_client_calls_a_server_found_through_etcd() {
    let etcd = EtcdServer::start().await;
    let registry: Arc<dyn Registry> = Arc::new(registry(etcd.options()));
    let server = micro_runtime::server::Server::new("greeter")
        .address("127.0.0.1:0")
        .registry(Arc::clone(&registry))
        .handle(GreeterServer::new(Greeter::default()))
        .start()
        .await
        .expect("server starts");
    assert_eq!(server.node().metadata["registry"], "etcd");

    // A separate registry (as another process would have) finds it.
    let other: Arc<dyn Registry> = Arc::new(self::registry(etcd.options()));
    let client = GreeterClient::new("greeter", Client::new(other));
    let reply = client
        .hello(HelloRequest {
            name: "etcd".into(),
        })
        .await
        .unwrap();
    assert_eq!(reply.greeting, "Hello etcd");

    server.stop().await.unwrap();
    assert!(registry.get_service("greeter").await.unwrap().is_empty());
}

/// Latencies worth knowing; run with `--nocapture` to see them.
#[tokio::test]
async fn measures_watch_and_expiry_latency() {
    let etcd = EtcdServer::start().await;
    let writer = registry(etcd.options());
    let reader = registry(etcd.options());
    let mut watcher = reader.watch(Some("timed")).await.unwrap();
    // Dial first, so the samples time the registry, not the first connection.
    writer.list_services().await.unwrap();

    let (mut created, mut deleted) = (Vec::new(), Vec::new());
    for i in 0..20 {
        let timed = service("timed", vec![node(&format!("timed-{i}"), 9000)]);
        let start = Instant::now();
        writer
            .register(&timed, Some(Duration::from_secs(30)))
            .await
            .unwrap();
        assert_eq!(next_event(&mut watcher).await.action, Action::Create);
        created.push(start.elapsed());
        let start = Instant::now();
        writer.deregister(&timed).await.unwrap();
        assert_eq!(next_event(&mut watcher).await.action, Action::Delete);
        deleted.push(start.elapsed());
    }

    let timed = service("timed", vec![node("timed-ttl", 9000)]);
    writer
        .register(&timed, Some(Duration::from_secs(3)))
        .await
        .unwrap();
    assert_eq!(next_event(&mut watcher).await.action, Action::Create);
    let stopped = Instant::now();
    drop(writer);
    assert_eq!(next_event(&mut watcher).await.action, Action::Delete);
    let expired = stopped.elapsed();

    let describe = |samples: &mut Vec<Duration>| {
        samples.sort();
        format!(
            "median {:?}, max {:?} ({} samples)",
            samples[samples.len() / 2],
            samples[samples.len() - 1],
            samples.len()
        )
    };
    println!("register -> watch Create: {}", describe(&mut created));
    println!("deregister -> watch Delete: {}", describe(&mut deleted));
    println!("keepalive stopped -> expiry Delete (3 s TTL): {expired:?}");
    assert!(expired > Duration::from_secs(2) && expired < Duration::from_secs(6));
}
