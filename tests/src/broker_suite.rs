//! What every broker must do, as tests any broker's test file runs.
//!
//! Each function takes `make`, which returns a broker handle as another process would have it:
//! a new `HttpBroker` (its own inbox) on a shared registry, a new NATS connection, or the same
//! memory broker. Topics are unique per call, so brokers shared between tests never mix messages.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use micro_runtime::broker::{Broker, EventHandler, Message, SubscribeOptions, event_handler};
use tokio::sync::{Semaphore, watch};

/// How long a suite waits for messages before failing.
pub const WAIT: Duration = Duration::from_secs(15);

/// The broker suite and the typed-subscriber suite as `#[tokio::test]`s, each on what `$make()`
/// returns: a `Fn() -> Arc<dyn Broker>` giving the broker under test. A test added here runs on
/// every broker that uses this.
#[macro_export]
macro_rules! broker_suite_tests {
    ($make:path) => {
        $crate::broker_suite_tests!(@each $make;
            broadcast_reaches_every_subscriber,
            queue_group_delivers_each_message_once,
            unsubscribe_stops_delivery,
            slow_subscriber_does_not_block_others,
            oversized_headers_fail_at_publish
        );
        #[tokio::test]
        async fn typed_subscribers() {
            $crate::subscriber_suite::typed_subscribers(&$make()).await;
        }
    };
    (@each $make:path; $($name:ident),*) => {
        $(#[tokio::test] async fn $name() { $crate::broker_suite::$name(&$make()).await; })*
    };
}

/// A topic no other test uses.
pub fn unique_topic(name: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{name}.{}.{nanos}.{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A raw message whose body is `seq` in decimal.
pub fn numbered(seq: u64) -> Message {
    Message::new(seq.to_string()).with_header("Micro-Id", format!("msg-{seq}"))
}

/// Records the numbered messages a subscription receives, and lets tests await them.
#[derive(Clone)]
pub struct Received {
    seen: Arc<Mutex<Vec<u64>>>,
    count: watch::Sender<usize>,
}

impl Default for Received {
    fn default() -> Self {
        Self {
            seen: Arc::default(),
            count: watch::Sender::new(0),
        }
    }
}

impl Received {
    /// Records `seq`.
    pub fn push(&self, seq: u64) {
        let mut seen = self.seen.lock().unwrap();
        seen.push(seq);
        self.count.send_replace(seen.len());
    }

    /// A handler recording each message's number.
    pub fn handler(&self) -> EventHandler {
        let this = self.clone();
        event_handler(move |event| {
            let this = this.clone();
            async move {
                let text = std::str::from_utf8(&event.message().body).unwrap_or("");
                this.push(text.parse().expect("a numbered message"));
                Ok(())
            }
        })
    }

    /// A handler recording the `seq` of each protobuf `OrderPlaced`.
    pub fn handler_for_orders(&self) -> EventHandler {
        let this = self.clone();
        event_handler(move |event| {
            let this = this.clone();
            async move {
                let order: crate::proto::events::OrderPlaced =
                    micro_runtime::codec::ContentType::PROTOBUF
                        .decode(event.message().body.clone())
                        .expect("an OrderPlaced");
                this.push(order.seq);
                Ok(())
            }
        })
    }

    /// What was received, in order.
    pub fn seen(&self) -> Vec<u64> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until at least `n` messages are in, or fails after [`WAIT`].
    pub async fn wait_for(&self, n: usize, what: &str) -> Vec<u64> {
        let mut count = self.count.subscribe();
        let reached = tokio::time::timeout(WAIT, count.wait_for(|c| *c >= n)).await;
        assert!(
            matches!(reached, Ok(Ok(_))),
            "{what}: {} of {n} messages within {WAIT:?}",
            self.seen().len()
        );
        self.seen()
    }
}

async fn publish_range(broker: &Arc<dyn Broker>, topic: &str, range: std::ops::Range<u64>) {
    for seq in range {
        broker.publish(topic, numbered(seq)).await.expect("publish");
    }
}

/// Broadcast: three subscribers, each with its own broker handle, get every message in order.
pub async fn broadcast_reaches_every_subscriber(make: &dyn Fn() -> Arc<dyn Broker>) {
    let topic = unique_topic("broadcast");
    let mut subscriptions = Vec::new();
    let mut inboxes = Vec::new();
    for _ in 0..3 {
        let received = Received::default();
        let broker = make();
        let handler = received.handler();
        subscriptions.push(
            broker
                .subscribe(&topic, handler, SubscribeOptions::new())
                .await
                .expect("subscribe"),
        );
        inboxes.push((broker, received));
    }
    let publisher = make();
    publish_range(&publisher, &topic, 0..50).await;
    for (i, (_, received)) in inboxes.iter().enumerate() {
        let seen = received.wait_for(50, &format!("subscriber {i}")).await;
        assert_eq!(
            seen,
            (0..50).collect::<Vec<_>>(),
            "subscriber {i}: all, in order"
        );
    }
}

/// A queue group of three gets each message exactly once across its members, every member some;
/// a broadcast subscriber beside it still gets all.
pub async fn queue_group_delivers_each_message_once(make: &dyn Fn() -> Arc<dyn Broker>) {
    const N: u64 = 300;
    let topic = unique_topic("queue");
    let (mut brokers, mut subscriptions) = (Vec::new(), Vec::new());
    let group = Received::default();
    let members: Vec<Received> = (0..3).map(|_| Received::default()).collect();
    for member in &members {
        let broker = make();
        let handler = tee(member, &group);
        let options = SubscribeOptions::new().queue("workers");
        subscriptions.push(
            broker
                .subscribe(&topic, handler, options)
                .await
                .expect("subscribe"),
        );
        brokers.push(broker);
    }
    let everyone = Received::default();
    let broker = make();
    let handler = everyone.handler();
    subscriptions.push(
        broker
            .subscribe(&topic, handler, SubscribeOptions::new())
            .await
            .expect("subscribe"),
    );
    brokers.push(broker);

    let publisher = make();
    publish_range(&publisher, &topic, 0..N).await;
    everyone
        .wait_for(N as usize, "the broadcast subscriber")
        .await;
    let mut all = group.wait_for(N as usize, "the queue group").await;
    all.sort_unstable();
    assert_eq!(
        all,
        (0..N).collect::<Vec<_>>(),
        "each message exactly once across the group"
    );
    for (i, member) in members.iter().enumerate() {
        assert!(
            !member.seen().is_empty(),
            "member {i} got none of {N}: the group is not shared"
        );
    }
}

/// A handler recording each message in both `one` and `all`.
fn tee(one: &Received, all: &Received) -> EventHandler {
    let (one, all) = (one.clone(), all.clone());
    event_handler(move |event| {
        let (one, all) = (one.clone(), all.clone());
        async move {
            let seq = std::str::from_utf8(&event.message().body)
                .unwrap_or("")
                .parse()
                .expect("numbered");
            one.push(seq);
            all.push(seq);
            Ok(())
        }
    })
}

/// After `unsubscribe` returns, nothing more reaches that handler; the others go on.
pub async fn unsubscribe_stops_delivery(make: &dyn Fn() -> Arc<dyn Broker>) {
    let topic = unique_topic("unsubscribe");
    let (leaving, staying) = (Received::default(), Received::default());
    let (a, b) = (make(), make());
    let sub_a = a
        .subscribe(&topic, leaving.handler(), SubscribeOptions::new())
        .await
        .expect("subscribe");
    let _sub_b = b
        .subscribe(&topic, staying.handler(), SubscribeOptions::new())
        .await
        .expect("subscribe");
    let publisher = make();
    publish_range(&publisher, &topic, 0..10).await;
    leaving.wait_for(10, "before unsubscribing").await;
    staying.wait_for(10, "before unsubscribing").await;

    sub_a.unsubscribe().await.expect("unsubscribe");
    publish_range(&publisher, &topic, 10..30).await;
    staying.wait_for(30, "the subscriber that stayed").await;
    assert_eq!(
        leaving.seen(),
        (0..10).collect::<Vec<_>>(),
        "nothing after unsubscribe"
    );
}

/// A subscriber whose handler is stuck fills only its own bounded buffer: a fast subscriber on
/// the same topic gets every message meanwhile, and the slow one's overflow is counted as dropped.
pub async fn slow_subscriber_does_not_block_others(make: &dyn Fn() -> Arc<dyn Broker>) {
    const N: u64 = 200;
    const BUFFER: usize = 8;
    let topic = unique_topic("slow");
    let gate = Arc::new(Semaphore::new(0));
    let slow = Received::default();
    let slow_handler = {
        let (gate, slow) = (Arc::clone(&gate), slow.clone());
        event_handler(move |event| {
            let (gate, slow) = (Arc::clone(&gate), slow.clone());
            async move {
                gate.acquire().await.expect("gate open").forget();
                let text = std::str::from_utf8(&event.message().body).unwrap_or("");
                slow.push(text.parse().expect("numbered"));
                Ok(())
            }
        })
    };
    let fast = Received::default();
    let (slow_broker, fast_broker) = (make(), make());
    let slow_sub = slow_broker
        .subscribe(&topic, slow_handler, SubscribeOptions::new().buffer(BUFFER))
        .await
        .expect("subscribe");
    let _fast_sub = fast_broker
        .subscribe(&topic, fast.handler(), SubscribeOptions::new())
        .await
        .expect("subscribe");

    let publisher = make();
    publish_range(&publisher, &topic, 0..N).await;
    let seen = fast
        .wait_for(
            N as usize,
            "the fast subscriber, while the slow one is stuck",
        )
        .await;
    assert_eq!(seen, (0..N).collect::<Vec<_>>());
    assert!(slow.seen().is_empty(), "the slow handler is still stuck");
    let stats = slow_sub.stats();
    let deadline = tokio::time::Instant::now() + WAIT;
    // Counters have no event to await; the overflow may still be on its way (HTTP retries).
    while stats.dropped() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slow subscriber's overflow was never counted: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Released, the slow subscriber handles what it buffered (and, where the broker retries, more),
    // in order and without repeats.
    gate.add_permits(N as usize);
    let got = slow
        .wait_for(BUFFER, "the slow subscriber once released")
        .await;
    let unique: BTreeSet<u64> = got.iter().copied().collect();
    assert_eq!(unique.len(), got.len(), "no repeats: {got:?}");
    assert!(got.windows(2).all(|w| w[0] < w[1]), "in order: {got:?}");
}

/// A message with more headers than subscribers accept fails at `publish`, with the limits in
/// the error, and nothing reaches the subscriber; one at the limit goes through.
pub async fn oversized_headers_fail_at_publish(make: &dyn Fn() -> Arc<dyn Broker>) {
    use micro_runtime::broker::MAX_HEADERS;
    let topic = unique_topic("headers");
    let received = Received::default();
    let subscriber = make();
    let _subscription = subscriber
        .subscribe(&topic, received.handler(), SubscribeOptions::new())
        .await
        .expect("subscribe");
    let publisher = make();
    let with_headers = |n: usize, seq: u64| {
        let mut message = Message::new(seq.to_string());
        // Micro-Topic is added by publish: one header fewer of our own fits.
        for i in 0..n {
            message.header.insert(format!("X-{i}"), "v".into());
        }
        message
    };
    let err = publisher
        .publish(&topic, with_headers(MAX_HEADERS, 0))
        .await
        .expect_err("65 headers with Micro-Topic");
    assert!(err.to_string().contains("at most 64 headers"), "{err}");
    let mut big = Message::new("1");
    big.header.insert("X-Big".into(), "x".repeat(20 * 1024));
    let err = publisher.publish(&topic, big).await.expect_err("20 KiB");
    assert!(err.to_string().contains("16384 bytes"), "{err}");
    publisher
        .publish(&topic, with_headers(MAX_HEADERS - 1, 2))
        .await
        .expect("64 headers with Micro-Topic");
    assert_eq!(received.wait_for(1, "the message at the limit").await, [2]);
}
