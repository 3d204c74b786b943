//! The mDNS registry over real multicast sockets, each test in its own network namespace where
//! `lo` is the only interface (see `tests::netns`): nothing here multicasts on the host.
//!
//! Run with `--nocapture` to see the measured announce and goodbye latencies.

use std::collections::HashMap;
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode};
use hickory_proto::rr::rdata::{A, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record};
use micro_runtime::registry::{
    Action, Endpoint, Event, MdnsOptions, MdnsRegistry, Node, Registry, ServiceRecord, Value,
    Watcher,
};
use micro_runtime::server::Server;
use micro_runtime::{Client, LocalErrorKind};
use socket2::{Domain, Protocol, Socket, Type};
use tests::handlers::Greeter;
use tests::netns::{self, KillOnDrop};
use tests::proto::greeter::{GreeterClient, GreeterServer, HelloRequest};

// The bound on every wait for something that should happen in milliseconds.
const WAIT: Duration = Duration::from_secs(10);

fn in_namespace(test: &str, body: impl Future<Output = ()>) {
    netns::isolated(test, || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(body)
    });
}

fn mdns() -> MdnsRegistry {
    MdnsRegistry::new(MdnsOptions::default())
}

fn service(name: &str, id: &str, port: u16) -> ServiceRecord {
    let value = |name: &str, fields: Vec<Value>| Value {
        name: name.into(),
        type_name: name.into(),
        values: fields,
    };
    let field = Value {
        name: "name".into(),
        type_name: "string".into(),
        values: vec![],
    };
    ServiceRecord {
        name: name.into(),
        version: "1.0.0".into(),
        metadata: None,
        endpoints: vec![Endpoint {
            name: "Greeter.Hello".into(),
            request: Some(value("HelloRequest", vec![field])),
            response: Some(value("HelloResponse", vec![])),
            metadata: HashMap::new(),
        }],
        nodes: vec![Node {
            id: id.into(),
            address: format!("127.0.0.1:{port}"),
            metadata: [("protocol", "mucp"), ("registry", "mdns")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }],
    }
}

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out after {WAIT:?} waiting for {what}"))
}

async fn next_event(watcher: &mut Watcher, what: &str) -> Event {
    within(what, watcher.next())
        .await
        .unwrap_or_else(|| panic!("watch ended while waiting for {what}"))
}

// Asks until `found` holds: each ask already waits the query timeout, so this never spins.
async fn until(
    registry: &MdnsRegistry,
    name: &str,
    found: impl Fn(&[ServiceRecord]) -> bool,
) -> Vec<ServiceRecord> {
    within(&format!("get_service({name})"), async {
        loop {
            let services = registry.get_service(name).await.expect("get_service");
            if found(&services) {
                return services;
            }
        }
    })
    .await
}

#[test]
fn another_registry_finds_lists_and_loses_a_node() {
    in_namespace("another_registry_finds_lists_and_loses_a_node", async {
        let (a, b) = (mdns(), mdns());
        let greeter = service("greeter", "greeter-1", 9001);
        a.register(&greeter, None).await.unwrap();

        let found = until(&b, "greeter", |s| !s.is_empty()).await;
        assert_eq!(
            found,
            vec![greeter.clone()],
            "every field but service metadata round-trips"
        );
        // The registering instance finds its own node too.
        assert_eq!(
            a.get_service("greeter").await.unwrap(),
            vec![greeter.clone()]
        );

        let other = service("other", "other-1", 9002);
        a.register(&other, None).await.unwrap();
        let listed = b.list_services().await.unwrap();
        let names: Vec<&str> = listed.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["greeter", "other"]);

        a.deregister(&greeter).await.unwrap();
        assert!(b.get_service("greeter").await.unwrap().is_empty());
        assert!(a.get_service("greeter").await.unwrap().is_empty());
        let listed = b.list_services().await.unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(b.get_service("nobody").await.unwrap(), vec![]);
    });
}

#[test]
fn versions_are_grouped_and_nodes_kept_apart() {
    in_namespace("versions_are_grouped_and_nodes_kept_apart", async {
        let (a, b, c) = (mdns(), mdns(), mdns());
        let one = service("greeter", "greeter-1", 9001);
        let mut two = service("greeter", "greeter-2", 9002);
        two.nodes[0].address = "127.0.0.2:9002".into();
        let mut next = service("greeter", "greeter-3", 9003);
        next.version = "2.0.0".into();
        a.register(&one, None).await.unwrap();
        b.register(&two, None).await.unwrap();
        b.register(&next, None).await.unwrap();
        let found = until(&c, "greeter", |s| {
            s.iter().map(|s| s.nodes.len()).sum::<usize>() == 3
        })
        .await;
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].version, "1.0.0");
        let addresses: Vec<&str> = found[0].nodes.iter().map(|n| n.address.as_str()).collect();
        assert_eq!(addresses, ["127.0.0.1:9001", "127.0.0.2:9002"]);
        assert_eq!(found[1].nodes, next.nodes);
    });
}

#[test]
fn watch_sees_create_update_and_goodbye_delete() {
    in_namespace("watch_sees_create_update_and_goodbye_delete", async {
        let (a, b) = (mdns(), mdns());
        let mut watcher = b.watch(Some("greeter")).await.unwrap();
        let mut all = b.watch(None).await.unwrap();
        // Start A's sockets first, so the times below are the protocol's, not socket setup.
        drop(a.watch(None).await.unwrap());

        let mut greeter = service("greeter", "greeter-1", 9001);
        let started = Instant::now();
        a.register(&greeter, None).await.unwrap();
        let created = next_event(&mut watcher, "create").await;
        let create_latency = started.elapsed();
        assert_eq!(created.action, Action::Create);
        assert_eq!(created.service, greeter);

        // An unrelated service reaches only the watcher of everything.
        a.register(&service("other", "other-1", 9002), None)
            .await
            .unwrap();
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let event = next_event(&mut all, "events on the all-services watcher").await;
            seen.push((event.action, event.service.name));
        }
        assert!(seen.contains(&(Action::Create, "greeter".into())));
        assert!(seen.contains(&(Action::Create, "other".into())));

        // The same record again is no event; changed metadata and address are an update.
        a.register(&greeter, None).await.unwrap();
        greeter.nodes[0].metadata.insert("zone".into(), "b".into());
        greeter.nodes[0].address = "127.0.0.1:9011".into();
        a.register(&greeter, None).await.unwrap();
        let updated = next_event(&mut watcher, "update").await;
        assert_eq!(updated.action, Action::Update);
        assert_eq!(updated.service.nodes, greeter.nodes);

        let started = Instant::now();
        a.deregister(&greeter).await.unwrap();
        let deleted = next_event(&mut watcher, "delete").await;
        let delete_latency = started.elapsed();
        assert_eq!(deleted.action, Action::Delete);
        assert_eq!(deleted.service.nodes[0].id, "greeter-1");
        println!(
            "mdns latency: register -> watch Create {create_latency:?}; deregister (goodbye) -> watch Delete {delete_latency:?}"
        );
        let started = Instant::now();
        b.get_service("greeter").await.unwrap();
        println!(
            "mdns latency: get_service {:?} (query timeout 100 ms)",
            started.elapsed()
        );
    });
}

#[test]
fn another_process_is_found_and_deleted_when_its_ttl_runs_out() {
    in_namespace(
        "another_process_is_found_and_deleted_when_its_ttl_runs_out",
        async {
            let local = mdns();
            let mut watcher = local.watch(Some("peer")).await.unwrap();
            let mut peer = netns::peer_command("mdns_peer");
            peer.env("MDNS_PEER_SERVICE", "peer")
                .env("MDNS_PEER_NODE", "peer-1")
                .env("MDNS_PEER_TTL_MS", "2000")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped());
            let mut peer = KillOnDrop(peer.spawn().expect("start the peer process"));
            let lines = lines(peer.0.stdout.take().unwrap());
            let ready = tokio::task::spawn_blocking(move || {
                let mut lines = lines;
                lines.any(|l| l.contains("peer registered"))
            });
            assert!(
                within("the peer to register", ready).await.unwrap(),
                "peer exited early"
            );

            let created = next_event(&mut watcher, "the peer's create").await;
            assert_eq!(created.action, Action::Create);
            let found = until(&local, "peer", |s| !s.is_empty()).await;
            assert_eq!(found[0].nodes[0].id, "peer-1");

            // SIGKILL: no goodbye; the records' 2 s TTL must run out.
            peer.0.kill().unwrap();
            let killed = Instant::now();
            let deleted = next_event(&mut watcher, "the killed peer's delete").await;
            assert_eq!(deleted.action, Action::Delete);
            assert_eq!(deleted.service.nodes[0].id, "peer-1");
            println!(
                "mdns latency: SIGKILL -> watch Delete {:?} (record TTL 2 s)",
                killed.elapsed()
            );
            assert!(local.get_service("peer").await.unwrap().is_empty());
        },
    );
}

/// Not a test: a separate process other tests start inside their namespace. It registers
/// `MDNS_PEER_SERVICE`/`MDNS_PEER_NODE` with `MDNS_PEER_TTL_MS`, re-registering at a third of
/// the TTL as a server does, until its stdin closes or it is killed.
#[test]
#[ignore = "a helper process that mDNS tests start inside their namespace"]
fn mdns_peer() {
    netns::assert_isolated();
    let name = std::env::var("MDNS_PEER_SERVICE").expect("MDNS_PEER_SERVICE");
    let node = std::env::var("MDNS_PEER_NODE").expect("MDNS_PEER_NODE");
    let ttl: u64 = std::env::var("MDNS_PEER_TTL_MS").unwrap().parse().unwrap();
    let ttl = Duration::from_millis(ttl);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let registry = mdns();
        let service = service(&name, &node, 9100);
        registry.register(&service, Some(ttl)).await.unwrap();
        println!("peer registered");
        std::io::stdout().flush().unwrap();
        let reregister = {
            let (registry, service) = (registry.clone(), service.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(ttl / 3).await;
                    registry.register(&service, Some(ttl)).await.unwrap();
                }
            })
        };
        let _ =
            tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await;
        reregister.abort();
        registry.deregister(&service).await.unwrap();
    });
}

fn lines(pipe: impl std::io::Read + Send + 'static) -> std_mpsc::IntoIter<String> {
    let (tx, rx) = std_mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx.into_iter()
}

#[test]
fn malformed_records_are_skipped() {
    in_namespace("malformed_records_are_skipped", async {
        let (a, b) = (mdns(), mdns());
        let mut watcher = b.watch(Some("greeter")).await.unwrap();
        let hostile = Hostile::start();
        let greeter = service("greeter", "greeter-1", 9001);
        a.register(&greeter, None).await.unwrap();

        // Every lookup also hears the hostile answers; only the good node comes back.
        for _ in 0..3 {
            let found = until(&b, "greeter", |s| !s.is_empty()).await;
            assert_eq!(found, vec![greeter.clone()]);
        }
        // The watcher heard the bad announcements too, and reports only the good node.
        let created = next_event(&mut watcher, "create").await;
        assert_eq!(created.service.nodes, greeter.nodes);
        hostile.announce();
        a.deregister(&greeter).await.unwrap();
        let deleted = next_event(&mut watcher, "delete").await;
        assert_eq!(
            (deleted.action, deleted.service.nodes[0].id.as_str()),
            (Action::Delete, "greeter-1")
        );
        assert!(
            hostile.answered() > 0,
            "the hostile responder never heard a query"
        );
    });
}

/// A raw socket on the mDNS port that answers every question with malformed greeter records
/// (and a packet that is not DNS at all).
struct Hostile {
    socket: Arc<std::net::UdpSocket>,
    answered: Arc<std::sync::atomic::AtomicUsize>,
}

impl Hostile {
    fn start() -> Self {
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        socket.set_reuse_address(true).unwrap();
        socket.set_reuse_port(true).unwrap();
        socket
            .bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, 5353)).into())
            .unwrap();
        let group = Ipv4Addr::new(224, 0, 0, 251);
        socket
            .join_multicast_v4(&group, &Ipv4Addr::LOCALHOST)
            .unwrap();
        socket.set_multicast_if_v4(&Ipv4Addr::LOCALHOST).unwrap();
        socket.set_multicast_loop_v4(true).unwrap();
        let socket: Arc<std::net::UdpSocket> = Arc::new(socket.into());
        let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (rx, count) = (Arc::clone(&socket), Arc::clone(&answered));
        std::thread::spawn(move || {
            let mut buf = [0u8; 9000];
            while let Ok((len, _)) = rx.recv_from(&mut buf) {
                if Message::from_vec(&buf[..len])
                    .is_ok_and(|m| m.metadata.message_type == MessageType::Query)
                {
                    send_malformed(&rx);
                    count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
        Self { socket, answered }
    }

    fn announce(&self) {
        send_malformed(&self.socket);
    }

    fn answered(&self) -> usize {
        self.answered.load(std::sync::atomic::Ordering::Relaxed)
    }
}

fn send_malformed(socket: &std::net::UdpSocket) {
    // hex(zlib(`{not json`)) and hex(zlib(a valid greeter TXT)), made with Python's zlib.
    const NOT_JSON: &str = "789cabcecb2f51c82acecf0300127a03a7";
    const GOOD_TXT: &str = "789cab560a4e2d2acb4c4e55b2524a2f4a4d2d492d52d2510a4b2d2acecccf038ae52496a4169700855cf3520af233f34a8a95acf24a737274947c534b1253124b1295acaa6b6b016d6e18b7";
    let to = SocketAddr::from((Ipv4Addr::new(224, 0, 0, 251), 5353));
    let name = |s: &str| Name::from_ascii(s).unwrap();
    let host = name("evil.");
    let srv = |instance: &str| {
        Record::from_rdata(
            name(instance),
            120,
            RData::SRV(SRV::new(0, 0, 6666, host.clone())),
        )
    };
    let txt = |instance: &str, data: &str| {
        Record::from_rdata(
            name(instance),
            120,
            RData::TXT(TXT::new(vec![data.to_string()])),
        )
    };
    let a = Record::from_rdata(host.clone(), 120, RData::A(A(Ipv4Addr::new(127, 6, 6, 6))));
    let cases = [
        vec![
            srv("bad-hex.greeter.micro."),
            txt("bad-hex.greeter.micro.", "zz-not-hex"),
            a.clone(),
        ],
        vec![
            srv("bad-zlib.greeter.micro."),
            txt("bad-zlib.greeter.micro.", "deadbeef"),
            a.clone(),
        ],
        vec![
            srv("bad-json.greeter.micro."),
            txt("bad-json.greeter.micro.", NOT_JSON),
            a.clone(),
        ],
        // Good TXT, but no address for the SRV target.
        vec![
            srv("no-a.greeter.micro."),
            txt("no-a.greeter.micro.", GOOD_TXT),
        ],
        // Good TXT, but no SRV.
        vec![txt("no-srv.greeter.micro.", GOOD_TXT), a.clone()],
        // Good TXT under a name that is not <node>.greeter.micro.
        vec![
            srv("elsewhere.micro."),
            txt("elsewhere.micro.", GOOD_TXT),
            a,
        ],
    ];
    for records in cases {
        let mut message = Message::new(0, MessageType::Response, OpCode::Query);
        message.add_answers(records);
        socket.send_to(&message.to_vec().unwrap(), to).unwrap();
    }
    socket
        .send_to(b"\x00\x01not a dns message at all", to)
        .unwrap();
}

#[test]
fn names_with_slashes_and_unicode_round_trip() {
    in_namespace("names_with_slashes_and_unicode_round_trip", async {
        let (a, b) = (mdns(), mdns());
        for (name, id) in [
            ("api/v1/greeter", "api/v1/greeter-7f3a"),
            ("grüße-服务", "grüße-服务-🦀"),
            ("go.micro.srv.greeter", "go.micro.srv.greeter-1"),
        ] {
            let svc = service(name, id, 9001);
            a.register(&svc, None).await.unwrap();
            let found = until(&b, name, |s| !s.is_empty()).await;
            assert_eq!(found, vec![svc], "{name}");
        }
        let listed = b.list_services().await.unwrap();
        assert_eq!(listed.len(), 3, "{listed:?}");

        let err = a
            .register(&service(&"x".repeat(64), "x-1", 9001), None)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), LocalErrorKind::Registry);
        assert!(err.to_string().contains("DNS name"), "{err}");
        let mut bad_address = service("greeter", "greeter-1", 9001);
        bad_address.nodes[0].address = "localhost:9001".into();
        let err = a.register(&bad_address, None).await.unwrap_err();
        assert!(err.to_string().contains("ip:port"), "{err}");
    });
}

#[test]
fn a_missing_interface_is_a_clear_error() {
    in_namespace("a_missing_interface_is_a_clear_error", async {
        let registry = MdnsRegistry::new(MdnsOptions::default().interfaces(vec!["eth9".into()]));
        let err = registry.get_service("greeter").await.unwrap_err();
        assert_eq!(err.kind(), LocalErrorKind::Registry);
        assert!(err.to_string().contains("eth9"), "{err}");
    });
}

#[test]
fn a_greeter_is_called_by_name_through_mdns() {
    in_namespace("a_greeter_is_called_by_name_through_mdns", async {
        let server_registry: Arc<dyn Registry> = Arc::new(mdns());
        let server = Server::new("greeter")
            .address("127.0.0.1:0")
            .registry(server_registry)
            .handle(GreeterServer::new(Greeter::default()))
            .start()
            .await
            .expect("server starts");
        let client_registry: Arc<dyn Registry> = Arc::new(mdns());
        let client = GreeterClient::new("greeter", Client::new(client_registry));
        let reply = within(
            "a call",
            client.hello(HelloRequest {
                name: "mDNS".into(),
            }),
        )
        .await
        .unwrap();
        assert_eq!(reply.greeting, "Hello mDNS");
        server.stop().await.unwrap();
    });
}

#[test]
fn a_one_shot_query_from_another_port_is_answered_unicast() {
    in_namespace(
        "a_one_shot_query_from_another_port_is_answered_unicast",
        async {
            let a = mdns();
            a.register(&service("greeter", "greeter-1", 9001), None)
                .await
                .unwrap();
            // As go-micro's client asks: from an ephemeral port, so the answer must come back
            // unicast, with the query's id and question, and TTLs capped at 10 s (RFC 6762 §6.7).
            let reply = tokio::task::spawn_blocking(|| {
                let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
                socket
                    .bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)).into())
                    .unwrap();
                socket.set_multicast_if_v4(&Ipv4Addr::LOCALHOST).unwrap();
                socket.set_read_timeout(Some(WAIT)).unwrap();
                let socket: std::net::UdpSocket = socket.into();
                let mut query = Message::new(0x1234, MessageType::Query, OpCode::Query);
                query.add_query(hickory_proto::op::Query::query(
                    Name::from_ascii("greeter.micro.").unwrap(),
                    hickory_proto::rr::RecordType::PTR,
                ));
                let to = SocketAddr::from((Ipv4Addr::new(224, 0, 0, 251), 5353));
                socket.send_to(&query.to_vec().unwrap(), to).unwrap();
                let mut buf = [0u8; 9000];
                let (len, _) = socket.recv_from(&mut buf).expect("a unicast answer");
                Message::from_vec(&buf[..len]).unwrap()
            })
            .await
            .unwrap();
            assert_eq!(reply.metadata.id, 0x1234);
            assert_eq!(reply.metadata.message_type, MessageType::Response);
            assert_eq!(reply.queries[0].name().to_ascii(), "greeter.micro.");
            assert!(reply.answers.iter().all(|r| r.ttl <= 10));
            let srv = reply.answers.iter().find_map(|r| match &r.data {
                RData::SRV(srv) => Some((r.name.to_ascii(), srv.port)),
                _ => None,
            });
            assert_eq!(srv, Some(("greeter-1.greeter.micro.".to_string(), 9001)));
            assert!(
                reply
                    .answers
                    .iter()
                    .any(|r| r.data == RData::A(A(Ipv4Addr::LOCALHOST)))
            );
        },
    );
}
