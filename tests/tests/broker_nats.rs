//! The NATS broker against real nats-server processes on loopback: the broker and subscriber
//! suites, go-micro's exact bytes on the wire, queue groups shared with a raw NATS client,
//! malformed payloads, a slow subscriber on a shared connection, unreachable servers, disconnect,
//! and a server restart in the middle of publishing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use micro_runtime::LocalErrorKind;
use micro_runtime::broker::nats::NatsBroker;
use micro_runtime::broker::{
    Broker, Event, EventHandler, Message, SubscribeOptions, decode_envelope, event_handler,
};
use tests::broker_suite::{self, unique_topic};
use tests::nats::NatsServer;
use tests::{logs, subscriber_suite};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::{Instant, timeout};

// The bound on every wait for something that should happen.
const WAIT: Duration = Duration::from_secs(10);

fn broker(server: &NatsServer) -> NatsBroker {
    NatsBroker::new(server.url()).expect("a valid URL")
}

/// A plain NATS connection, standing in for a Go service.
async fn raw(server: &NatsServer) -> async_nats::Client {
    async_nats::connect(server.url())
        .await
        .expect("raw NATS client")
}

/// Waits until the server has read everything `client` sent so far (its SUBs in particular): a
/// message to itself comes back only after them.
async fn sync(client: &async_nats::Client) {
    let inbox = client.new_inbox();
    let mut echo = client.subscribe(inbox.clone()).await.expect("subscribe");
    client.publish(inbox, "".into()).await.expect("publish");
    timeout(WAIT, echo.next())
        .await
        .expect("echo in time")
        .expect("echo");
}

/// A handler sending each event into a channel.
fn collector() -> (EventHandler, mpsc::UnboundedReceiver<Arc<Event>>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handler = event_handler(move |event| {
        let _ = tx.send(event);
        async { Ok(()) }
    });
    (handler, rx)
}

/// A handler sending `(member, sequence number)` for each event into a shared channel.
fn numbered(member: usize, tx: &mpsc::UnboundedSender<(usize, u32)>) -> EventHandler {
    let tx = tx.clone();
    event_handler(move |event| {
        let _ = tx.send((member, seq(event.message())));
        async { Ok(()) }
    })
}

fn seq(message: &Message) -> u32 {
    std::str::from_utf8(&message.body)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a numbered message: {message:?}"))
}

async fn next<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    timeout(WAIT, rx.recv())
        .await
        .expect("a message in time")
        .expect("the channel is open")
}

/// The next numbered message a raw subscriber sees.
async fn raw_next(subscriber: &mut async_nats::Subscriber) -> u32 {
    let message = timeout(WAIT, subscriber.next())
        .await
        .expect("a message in time")
        .expect("subscribed");
    seq(&decode_envelope(&message.payload).expect("an envelope"))
}

/// A new broker, with its own connection, on each call: as other processes would have.
fn connections(server: &NatsServer) -> impl Fn() -> Arc<dyn Broker> {
    let url = server.url();
    move || Arc::new(NatsBroker::new(url.as_str()).expect("a valid URL"))
}

#[tokio::test]
async fn broadcast_reaches_every_subscriber() {
    let server = NatsServer::start().await;
    broker_suite::broadcast_reaches_every_subscriber(&connections(&server)).await;
}

#[tokio::test]
async fn queue_group_delivers_each_message_once() {
    let server = NatsServer::start().await;
    broker_suite::queue_group_delivers_each_message_once(&connections(&server)).await;
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let server = NatsServer::start().await;
    broker_suite::unsubscribe_stops_delivery(&connections(&server)).await;
}

#[tokio::test]
async fn slow_subscriber_does_not_block_others() {
    let server = NatsServer::start().await;
    broker_suite::slow_subscriber_does_not_block_others(&connections(&server)).await;
}

#[tokio::test]
async fn oversized_headers_fail_at_publish() {
    let server = NatsServer::start().await;
    broker_suite::oversized_headers_fail_at_publish(&connections(&server)).await;
}

#[tokio::test]
async fn typed_subscribers() {
    let server = NatsServer::start().await;
    subscriber_suite::typed_subscribers(&connections(&server)).await;
}

#[tokio::test]
async fn publishes_go_micros_bytes() {
    let server = NatsServer::start().await;
    let go = raw(&server).await;
    let mut seen = go.subscribe("t").await.unwrap();
    sync(&go).await;

    let broker = broker(&server);
    let message = Message::new("hello").with_header("Content-Type", "text/plain");
    broker.publish("t", message).await.unwrap();

    let got = timeout(WAIT, seen.next()).await.unwrap().unwrap();
    assert_eq!(got.subject.as_str(), "t");
    // Go: json.Marshal(&broker.Message{Header: {"Content-Type": "text/plain",
    // "Micro-Topic": "t"}, Body: []byte("hello")}), sent as a plain PUB without NATS headers.
    assert_eq!(
        std::str::from_utf8(&got.payload).unwrap(),
        r#"{"Header":{"Content-Type":"text/plain","Micro-Topic":"t"},"Body":"aGVsbG8="}"#
    );
    assert!(got.headers.is_none());
}

#[tokio::test]
async fn reads_what_go_micro_publishes() {
    let server = NatsServer::start().await;
    let broker = broker(&server);
    let (handler, mut events) = collector();
    let subscription = broker
        .subscribe("go.events", handler, SubscribeOptions::new())
        .await
        .unwrap();

    // What a go-micro service publishes for `{"name":"John"}`.
    let go = raw(&server).await;
    let payload = r#"{"Header":{"Content-Type":"application/json","Micro-Id":"4e9c2e8a-0c5b-4b3a-9a57-2d0f2d9c6a11","Micro-Topic":"go.events"},"Body":"eyJuYW1lIjoiSm9obiJ9"}"#;
    go.publish("go.events", payload.into()).await.unwrap();
    go.flush().await.unwrap();

    let event = next(&mut events).await;
    assert_eq!(event.topic(), "go.events");
    let message = event.message();
    assert_eq!(
        message.header,
        BTreeMap::from([
            ("Content-Type".into(), "application/json".into()),
            (
                "Micro-Id".into(),
                "4e9c2e8a-0c5b-4b3a-9a57-2d0f2d9c6a11".into()
            ),
            ("Micro-Topic".into(), "go.events".into()),
        ])
    );
    assert_eq!(message.id(), "4e9c2e8a-0c5b-4b3a-9a57-2d0f2d9c6a11");
    assert_eq!(&message.body[..], br#"{"name":"John"}"#);
    subscription.unsubscribe().await.unwrap();
}

/// The suite counts deliveries once all have arrived; this also rules out a duplicate arriving
/// later.
#[tokio::test]
async fn queue_group_never_delivers_twice() {
    const COUNT: u32 = 300;
    let server = NatsServer::start().await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut members = Vec::new();
    for member in 0..3 {
        let broker = broker(&server);
        let subscription = broker
            .subscribe(
                "jobs",
                numbered(member, &tx),
                SubscribeOptions::new().queue("workers"),
            )
            .await
            .unwrap();
        members.push((broker, subscription));
    }
    let publisher = broker(&server);
    for n in 0..COUNT {
        publisher
            .publish("jobs", Message::new(n.to_string()))
            .await
            .unwrap();
    }
    let mut deliveries: HashMap<u32, usize> = HashMap::new();
    let mut per_member = [0usize; 3];
    while deliveries.len() < COUNT as usize {
        let (member, n) = next(&mut rx).await;
        *deliveries.entry(n).or_default() += 1;
        per_member[member] += 1;
    }
    // A duplicate would reach its member before anything published later: once every member
    // has had a later message, every duplicate would have shown up.
    let mut caught_up = [false; 3];
    let mut marker = COUNT;
    while caught_up.contains(&false) {
        assert!(marker < COUNT + 200, "some member never got a marker");
        publisher
            .publish("jobs", Message::new(marker.to_string()))
            .await
            .unwrap();
        let (member, n) = next(&mut rx).await;
        assert_eq!(n, marker, "a duplicate arrived");
        caught_up[member] = true;
        marker += 1;
    }
    assert!(deliveries.values().all(|&times| times == 1));
    assert!(
        per_member.iter().all(|&count| count > 0),
        "every member shares the work: {per_member:?}"
    );
    println!("queue group split {COUNT} messages as {per_member:?}");
}

#[tokio::test]
async fn queue_group_is_a_real_nats_queue_group() {
    const COUNT: u32 = 200;
    let server = NatsServer::start().await;
    let ours = broker(&server);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let subscription = ours
        .subscribe(
            "mixed.jobs",
            numbered(0, &tx),
            SubscribeOptions::new().queue("mixed"),
        )
        .await
        .unwrap();
    // A Go service's queue subscription is a NATS queue subscription with the same names.
    let go = raw(&server).await;
    let mut theirs = go
        .queue_subscribe("mixed.jobs", "mixed".into())
        .await
        .unwrap();
    sync(&go).await;
    tokio::spawn(async move {
        while let Some(message) = theirs.next().await {
            let message = decode_envelope(&message.payload).expect("an envelope");
            let _ = tx.send((1, seq(&message)));
        }
    });

    let publisher = broker(&server);
    for n in 0..COUNT {
        publisher
            .publish("mixed.jobs", Message::new(n.to_string()))
            .await
            .unwrap();
    }
    let mut seen = BTreeSet::new();
    let mut per_member = [0usize; 2];
    for _ in 0..COUNT {
        let (member, n) = next(&mut rx).await;
        assert!(seen.insert(n), "message {n} delivered twice");
        per_member[member] += 1;
    }
    assert_eq!(seen, (0..COUNT).collect());
    assert!(
        per_member.iter().all(|&count| count > 0),
        "ours and the raw member share the work: {per_member:?}"
    );
    subscription.unsubscribe().await.unwrap();
}

#[tokio::test]
async fn disconnect_sends_what_was_published_and_ends_subscriptions() {
    let server = NatsServer::start().await;
    let go = raw(&server).await;
    let mut seen = go.subscribe("d").await.unwrap();
    sync(&go).await;
    let broker = broker(&server);
    let (handler, _events) = collector();
    let subscription = broker
        .subscribe("d", handler, SubscribeOptions::new())
        .await
        .unwrap();
    for n in 0..100u32 {
        broker
            .publish("d", Message::new(n.to_string()))
            .await
            .unwrap();
    }
    broker.disconnect().await.unwrap();
    for n in 0..100 {
        assert_eq!(raw_next(&mut seen).await, n);
    }

    // The subscription has ended: a message the raw subscriber gets never reaches it.
    let other = self::broker(&server);
    other.publish("d", Message::new("100")).await.unwrap();
    assert_eq!(raw_next(&mut seen).await, 100);
    let stats = Arc::clone(subscription.stats());
    assert!(stats.received() <= 100, "{stats:?}");
    timeout(WAIT, subscription.unsubscribe())
        .await
        .expect("unsubscribing an ended subscription is quick")
        .unwrap();

    // The broker connects again when used.
    broker.publish("d", Message::new("101")).await.unwrap();
    assert_eq!(raw_next(&mut seen).await, 101);
}

// Several threads: there async-nats's connection task sees the last handle go while messages
// are still unwritten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_broker_still_sends_what_was_published() {
    let server = NatsServer::start().await;
    let go = raw(&server).await;
    let mut seen = go.subscribe("dropped").await.unwrap();
    sync(&go).await;
    let broker = broker(&server);
    for n in 0..100u32 {
        broker
            .publish("dropped", Message::new(n.to_string()))
            .await
            .unwrap();
    }
    drop(broker);
    for n in 0..100 {
        assert_eq!(raw_next(&mut seen).await, n);
    }
}

#[tokio::test]
async fn concurrent_first_uses_share_one_connection() {
    let server = NatsServer::start().await;
    let broker = Arc::new(broker(&server));
    let connects = (0..8).map(|_| {
        let broker = Arc::clone(&broker);
        async move { broker.connect().await }
    });
    for result in futures_util::future::join_all(connects).await {
        result.unwrap();
    }
    let (handler, mut events) = collector();
    let subscription = broker
        .subscribe("c", handler, SubscribeOptions::new())
        .await
        .unwrap();
    broker.publish("c", Message::new("1")).await.unwrap();
    assert_eq!(seq(next(&mut events).await.message()), 1);
    subscription.unsubscribe().await.unwrap();
}

#[tokio::test]
async fn malformed_payloads_are_counted_logged_and_skipped() {
    let logs = logs::capture();
    let server = NatsServer::start().await;
    let broker = broker(&server);
    let topic = unique_topic("malformed");
    let (handler, mut events) = collector();
    let subscription = broker
        .subscribe(&topic, handler, SubscribeOptions::new())
        .await
        .unwrap();

    let go = raw(&server).await;
    go.publish(topic.clone(), "not json".into()).await.unwrap();
    go.publish(topic.clone(), r#"{"Header":{},"Body":"***"}"#.into())
        .await
        .unwrap();
    go.publish(topic.clone(), r#"{"Header":{},"Body":"Nw=="}"#.into())
        .await
        .unwrap();
    go.flush().await.unwrap();

    // NATS keeps one publisher's order, so the bad two were read before this one.
    assert_eq!(seq(next(&mut events).await.message()), 7);
    let stats = subscription.stats();
    assert_eq!(stats.malformed(), 2);
    assert_eq!(stats.received(), 1);
    logs.wait_for(&["WARN", &topic, "not a go-micro broker message"], WAIT)
        .await;

    broker.publish(&topic, Message::new("8")).await.unwrap();
    assert_eq!(seq(next(&mut events).await.message()), 8);
    subscription.unsubscribe().await.unwrap();
}

#[tokio::test]
async fn slow_subscriber_does_not_hold_up_a_fast_one_on_its_connection() {
    const COUNT: u32 = 500;
    let server = NatsServer::start().await;
    // Both on one broker, so on one NATS connection.
    let broker = broker(&server);
    let gate = Arc::new(Semaphore::new(0));
    let slow_gate = Arc::clone(&gate);
    let slow_handler = event_handler(move |_| {
        let gate = Arc::clone(&slow_gate);
        async move {
            // Blocked until the gate closes at the end of the test.
            let _ = gate.acquire().await;
            Ok(())
        }
    });
    let slow = broker
        .subscribe("s", slow_handler, SubscribeOptions::new().buffer(8))
        .await
        .unwrap();
    let (fast_handler, mut fast_events) = collector();
    let fast = broker
        .subscribe("s", fast_handler, SubscribeOptions::new())
        .await
        .unwrap();

    let publisher = self::broker(&server);
    let started = Instant::now();
    for n in 0..COUNT {
        publisher
            .publish("s", Message::new(n.to_string()))
            .await
            .unwrap();
    }
    for n in 0..COUNT {
        assert_eq!(seq(next(&mut fast_events).await.message()), n);
    }
    println!(
        "fast subscriber had all {COUNT} after {:?}",
        started.elapsed()
    );
    assert_eq!(fast.stats().dropped(), 0);

    // The slow one's reader may still be catching up with the server; wait until it has seen
    // everything, then nearly all of it must have been dropped: one message in the handler and
    // eight in the buffer at most.
    let stats = Arc::clone(slow.stats());
    let deadline = Instant::now() + WAIT;
    while stats.received() < u64::from(COUNT) {
        assert!(Instant::now() < deadline, "slow reader stuck: {stats:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(stats.dropped() >= u64::from(COUNT) - 9, "{stats:?}");

    gate.close();
    slow.unsubscribe().await.unwrap();
    fast.unsubscribe().await.unwrap();
}

#[tokio::test]
async fn unreachable_server_fails_clearly_and_quickly() {
    // A loopback port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let broker = NatsBroker::new(format!("nats://127.0.0.1:{port}")).unwrap();
    let started = Instant::now();
    let err = timeout(WAIT, broker.connect())
        .await
        .expect("connect gives up in time")
        .unwrap_err();
    assert_eq!(err.kind(), LocalErrorKind::Broker);
    assert!(
        err.to_string()
            .contains(&format!("cannot reach NATS at nats://127.0.0.1:{port}")),
        "{err}"
    );
    println!("unreachable: {err} (after {:?})", started.elapsed());

    let (handler, _events) = collector();
    let err = timeout(
        WAIT,
        broker.subscribe("t", handler, SubscribeOptions::new()),
    )
    .await
    .expect("subscribe gives up in time")
    .unwrap_err();
    assert_eq!(err.kind(), LocalErrorKind::Broker);
    let err = timeout(WAIT, broker.publish("t", Message::new("x")))
        .await
        .expect("publish gives up in time")
        .unwrap_err();
    assert_eq!(err.kind(), LocalErrorKind::Broker);
}

#[tokio::test]
async fn bad_urls_are_config_errors() {
    for bad in [
        "",
        "http://127.0.0.1:4222",
        "nats://",
        "nats://127.0.0.1:port",
    ] {
        let err = NatsBroker::new(bad).expect_err(bad);
        assert_eq!(err.kind(), LocalErrorKind::Config, "{bad:?}: {err}");
    }
    let registry = micro_runtime::registry::shared_memory_registry();
    let env = |key: &str| match key {
        "MICRO_BROKER" => Some("nats".to_string()),
        "MICRO_BROKER_ADDRESS" => Some("http://127.0.0.1:4222".to_string()),
        _ => None,
    };
    let err = micro_runtime::broker::broker_from_env(env, registry).unwrap_err();
    assert_eq!(err.kind(), LocalErrorKind::Config, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_loses_only_what_was_in_flight() {
    const TOTAL: u32 = 2000;
    const KILL_AT: u32 = 600;
    // How long the server stays down.
    const OUTAGE: Duration = Duration::from_millis(200);
    // Messages handed over this long before the kill may still have been in the publisher's
    // socket or the server's buffers when it died.
    const IN_FLIGHT: Duration = Duration::from_millis(250);

    let logs = logs::capture();
    let mut server = NatsServer::start().await;
    let subscriber = broker(&server);
    let (tx, mut received) = mpsc::unbounded_channel();
    let handler = event_handler(move |event| {
        let _ = tx.send((seq(event.message()), Instant::now()));
        async { Ok(()) }
    });
    let _subscription = subscriber
        .subscribe("numbers", handler, SubscribeOptions::new())
        .await
        .unwrap();
    let publisher = broker(&server);
    publisher.connect().await.unwrap();

    // One message a millisecond; records when each publish returned.
    let (at_kill, kill_now) = oneshot::channel();
    let publishing = tokio::spawn(async move {
        let mut at_kill = Some(at_kill);
        let mut published = Vec::with_capacity(TOTAL as usize);
        let mut pace = tokio::time::interval(Duration::from_millis(1));
        for n in 0..TOTAL {
            pace.tick().await;
            publisher
                .publish("numbers", Message::new(n.to_string()))
                .await
                .expect("publish is taken, even while disconnected");
            published.push(Instant::now());
            if n == KILL_AT {
                let _ = at_kill.take().map(|tx| tx.send(()));
            }
        }
        // Handed back: dropping a broker may drop what async-nats has not written yet.
        (publisher, published)
    });

    timeout(WAIT, kill_now).await.unwrap().unwrap();
    let killed = Instant::now();
    server.kill();
    tokio::time::sleep(OUTAGE).await;
    server.restart().await;
    let restarted = Instant::now();

    let (_publisher, published) = timeout(WAIT, publishing).await.unwrap().unwrap();
    let mut arrivals: Vec<(u32, Instant)> = Vec::new();
    while arrivals.last().map(|(n, _)| *n) != Some(TOTAL - 1) {
        let arrival = timeout(WAIT, received.recv())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "delivery did not resume: last arrival {:?}",
                    arrivals.last().map(|(n, _)| n)
                )
            })
            .unwrap();
        arrivals.push(arrival);
    }

    let delivered: BTreeSet<u32> = arrivals.iter().map(|(n, _)| *n).collect();
    assert_eq!(delivered.len(), arrivals.len(), "no message twice");
    // The first message published after the kill that got through: both sides were back when
    // the server read it, and the server reads one connection in order, so every later message
    // must arrive too. (Judged by publish time, not arrival time, which a loaded machine skews.)
    let resumed_at_seq = (0..TOTAL)
        .find(|n| published[*n as usize] > killed && delivered.contains(n))
        .expect("delivery resumed after the restart");
    let resumed = published[resumed_at_seq as usize];
    assert!(restarted > killed);
    let lost: Vec<u32> = (0..TOTAL).filter(|n| !delivered.contains(n)).collect();
    let lost_before_kill = lost
        .iter()
        .filter(|&&n| published[n as usize] <= killed)
        .count();
    let published_in_outage = published
        .iter()
        .filter(|&&at| at > killed && at <= resumed)
        .count();
    println!(
        "restart: published {TOTAL}, delivered {}, lost {} {:?}; server down {:?}; the first \
         message to get through again (message {resumed_at_seq}) was published {:?} after the \
         kill; {published_in_outage} published meanwhile",
        delivered.len(),
        lost.len(),
        ranges(&lost),
        restarted - killed,
        resumed - killed,
    );
    println!(
        "  lost {lost_before_kill} handed over before the kill (in the publisher's socket or in \
         the server when it died) and {} after (written into the dead connection, or sent by the \
         reconnected publisher before the subscriber had subscribed again): NATS core is \
         at-most-once",
        lost.len() - lost_before_kill
    );

    // Nothing published after the reconnection is lost.
    assert!(
        (resumed_at_seq..TOTAL).all(|n| delivered.contains(&n)),
        "lost after delivery resumed: {:?}",
        ranges(&lost)
    );
    // What is lost was handed over in the outage window, and is fewer than what was published
    // in it plus what could have been in flight at the kill.
    for &n in &lost {
        let at = published[n as usize];
        assert!(
            at + IN_FLIGHT > killed && at <= resumed,
            "message {n} lost outside the outage window"
        );
    }
    let in_flight = published
        .iter()
        .filter(|&&at| at + IN_FLIGHT > killed && at <= killed)
        .count();
    assert!(lost.len() <= published_in_outage + in_flight);
    // Both sides said what happened.
    let url = server.url();
    logs.wait_for(&["WARN", &url, "lost the connection to NATS"], WAIT)
        .await;
    logs.wait_for(&["INFO", &url, "reconnected to NATS"], WAIT)
        .await;
}

/// `[1, 2, 3, 7]` as `["1-3", "7"]`.
fn ranges(numbers: &[u32]) -> Vec<String> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &n in numbers {
        match out.last_mut() {
            Some((_, end)) if *end + 1 == n => *end = n,
            _ => out.push((n, n)),
        }
    }
    out.into_iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect()
}
