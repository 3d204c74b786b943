//! `Broker::flush`: what was published has left the process when a flush, a `disconnect` or the
//! stop of a service owning its broker returns `Ok`; at the deadline they fail saying how much was
//! still pending. The HTTP broker against subscribers by hand (slow, dead) and real inboxes, NATS
//! against a real nats-server. (A separate process that publishes and exits: the `publish`
//! example's test, `examples/tests/publish_exit.rs`.)

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use micro_runtime::Service;
use micro_runtime::broker::http::{BROADCAST_VERSION, HttpBroker, SERVICE_NAME};
use micro_runtime::broker::nats::NatsBroker;
use micro_runtime::broker::{Broker, MemoryBroker, Message, SubscribeOptions, event_handler};
use micro_runtime::registry::{MemoryRegistry, Node, Registry, ServiceRecord as Record};
use micro_runtime::transport::{FrameReader, Limits};
use tests::broker_suite::{numbered, unique_topic};
use tests::nats::NatsServer;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::mpsc;
use tokio::time::Instant;

// The longest any awaited event may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);

fn registry() -> Arc<dyn Registry> {
    Arc::new(MemoryRegistry::new())
}

/// Registers a hand-made broadcast subscriber of `topic` at `address`, as a Go process would.
async fn register_node(registry: &Arc<dyn Registry>, id: &str, topic: &str, address: SocketAddr) {
    let metadata = [("broker", "http"), ("topic", topic), ("secure", "false")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let record = Record {
        name: SERVICE_NAME.to_string(),
        version: BROADCAST_VERSION.to_string(),
        nodes: vec![Node {
            id: id.to_string(),
            address: address.to_string(),
            metadata,
        }],
        ..Record::default()
    };
    registry.register(&record, None).await.unwrap();
}

/// A loopback address that refuses connections: bound, so no other test takes the port, but not
/// listening. A subscriber that died.
fn refusing_address() -> (TcpSocket, SocketAddr) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let address = socket.local_addr().unwrap();
    (socket, address)
}

/// A go-micro inbox by hand whose handler takes `delay` per message: it answers each request
/// that long after reading it, one after another, as Go's does. Counts the answers sent.
fn slow_inbox(listener: TcpListener, delay: Duration) -> Arc<AtomicUsize> {
    let answered = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&answered);
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let count = Arc::clone(&count);
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut reader = FrameReader::new(read, Limits::default());
                while let Ok(Some(_request)) = reader.read_request().await {
                    tokio::time::sleep(delay).await;
                    count.fetch_add(1, Ordering::SeqCst);
                    let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    answered
}

async fn publish_3(broker: &dyn Broker, topic: &str) {
    for seq in 0..3 {
        broker.publish(topic, numbered(seq)).await.unwrap();
    }
}

// Real time: a subscriber by hand over real sockets does not mix with a paused clock, which jumps
// to the next timer whenever the runtime waits, even for a socket that is about to be readable.
#[tokio::test]
async fn a_flush_waits_for_a_slow_subscribers_replies() {
    let registry = registry();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    register_node(&registry, "slow-1", "slow", address).await;
    let answered = slow_inbox(listener, Duration::from_millis(200));
    let publisher = HttpBroker::new(Arc::clone(&registry));

    publish_3(&publisher, "slow").await;
    let started = Instant::now();
    publisher.flush(WAIT).await.unwrap();
    // Ok only once every reply has been read: three handlers of 200 ms, one after another.
    assert_eq!(answered.load(Ordering::SeqCst), 3);
    assert!(started.elapsed() >= Duration::from_millis(600));
    publisher.disconnect().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_flush_with_a_dead_subscriber_ends_at_the_deadline_with_the_pending_count() {
    let registry = registry();
    let (_held, address) = refusing_address();
    register_node(&registry, "dead-1", "dead", address).await;
    let publisher = HttpBroker::new(Arc::clone(&registry)).flush_timeout(Duration::from_secs(1));

    publish_3(&publisher, "dead").await;
    let started = Instant::now();
    let err = publisher
        .flush(Duration::from_secs(5))
        .await
        .expect_err("nothing can be delivered");
    // At the deadline, not when the messages expire (a minute, by default).
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_secs(30),
        "{waited:?}"
    );
    assert!(
        err.to_string().contains("3 deliveries still pending"),
        "{err}"
    );
    // They are still being retried: disconnect flushes for its own timeout, then drops them.
    let err = publisher.disconnect().await.expect_err("3 were dropped");
    assert!(
        err.to_string().contains("3 deliveries still pending"),
        "{err}"
    );
}

#[tokio::test]
async fn disconnect_delivers_what_was_published_before_it_returns() {
    let registry = registry();
    let subscriber = HttpBroker::new(Arc::clone(&registry));
    let (tx, mut handled) = mpsc::unbounded_channel();
    let handler = event_handler(move |event| {
        let _ = tx.send(event.message().body.clone());
        async { Ok(()) }
    });
    let topic = unique_topic("disconnect");
    let subscription = subscriber
        .subscribe(&topic, handler, SubscribeOptions::new())
        .await
        .unwrap();
    let publisher = HttpBroker::new(Arc::clone(&registry));

    publish_3(&publisher, &topic).await;
    publisher.disconnect().await.unwrap();
    // In the subscriber's buffer, not merely on their way.
    assert_eq!(subscription.stats().received(), 3);
    for seq in 0..3 {
        let body = tokio::time::timeout(WAIT, handled.recv()).await.unwrap();
        assert_eq!(body.unwrap(), seq.to_string());
    }
    subscription.unsubscribe().await.unwrap();
    subscriber.disconnect().await.unwrap();
}

#[tokio::test]
async fn disconnect_delivers_to_the_brokers_own_subscriptions_before_closing_its_inbox() {
    let broker = HttpBroker::new(registry());
    let handler = event_handler(|_| async { Ok(()) });
    let subscription = broker
        .subscribe("own", handler, SubscribeOptions::new())
        .await
        .unwrap();
    publish_3(&broker, "own").await;
    broker.disconnect().await.unwrap();
    assert_eq!(subscription.stats().received(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_service_stop_flushes_within_its_drain_deadline() {
    let registry = registry();
    let (_held, address) = refusing_address();
    register_node(&registry, "dead-1", "stop", address).await;
    // The service builds its broker (MICRO_BROKER), so its stop disconnects and flushes it.
    let env = |key: &str| (key == "MICRO_BROKER").then(|| "http".to_string());
    let service = Service::builder("flusher")
        .registry(Arc::clone(&registry))
        .address("127.0.0.1:0")
        .build_with_env(env)
        .unwrap();
    let broker = service.broker();
    let running = service
        .server()
        .drain_timeout(Duration::from_secs(2))
        .start()
        .await
        .unwrap();

    publish_3(broker.as_ref(), "stop").await;
    let started = Instant::now();
    let err = running.stop().await.expect_err("nothing can be delivered");
    assert!(
        err.to_string().contains("3 deliveries still pending"),
        "{err}"
    );
    // Within the 2 s drain deadline, not the broker's 5 s default flush timeout.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_broker_with_nothing_buffered_flushes_at_once() {
    let memory = MemoryBroker::new();
    memory.publish("t", Message::new("x")).await.unwrap();
    memory.flush(Duration::ZERO).await.unwrap();
    // Nothing published: nothing to wait for, even with no time at all.
    HttpBroker::new(registry())
        .flush(Duration::ZERO)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_nats_flush_returns_once_the_server_has_every_message() {
    let server = NatsServer::start().await;
    let subscriber = NatsBroker::new(server.url()).unwrap();
    let (tx, mut handled) = mpsc::unbounded_channel();
    let handler = event_handler(move |event| {
        let _ = tx.send(event.message().body.clone());
        async { Ok(()) }
    });
    let topic = unique_topic("nats-flush");
    let subscription = subscriber
        .subscribe(&topic, handler, SubscribeOptions::new())
        .await
        .unwrap();
    let publisher = NatsBroker::new(server.url()).unwrap();

    publish_3(&publisher, &topic).await;
    publisher.flush(WAIT).await.unwrap();
    // The server has them, and passes them on however soon the publisher goes away.
    drop(publisher);
    for seq in 0..3 {
        let body = tokio::time::timeout(WAIT, handled.recv()).await.unwrap();
        assert_eq!(body.unwrap(), seq.to_string());
    }
    subscription.unsubscribe().await.unwrap();
    subscriber.disconnect().await.unwrap();
}

#[tokio::test]
async fn a_nats_flush_while_the_server_is_down_times_out_with_the_pending_count() {
    let mut server = NatsServer::start().await;
    let publisher = NatsBroker::new(server.url()).unwrap();
    publisher.connect().await.unwrap();

    // Publishes wait in the client meanwhile; the flush cannot get them to the server.
    server.kill();
    publish_3(&publisher, "nats-down").await;
    let err = publisher
        .flush(Duration::from_secs(1))
        .await
        .expect_err("the server is down");
    assert!(
        err.to_string().contains("3 messages not confirmed"),
        "{err}"
    );

    // Back: the client reconnects, and the flush gets through.
    server.restart().await;
    publisher.flush(WAIT).await.unwrap();
    publisher.disconnect().await.unwrap();
}
