//! Typed publishers and subscribers on any broker, through the server as users write them.

use std::sync::{Arc, Mutex};

use micro_runtime::broker::{Broker, Message, SubscribeOptions};
use micro_runtime::codec::ContentType;
use micro_runtime::middleware::{Next, from_fn};
use micro_runtime::server::{Server, SubscriberRequest};
use micro_runtime::{Context, Error, Publisher};

use crate::broker_suite::{Received, WAIT, unique_topic};
use crate::proto::events::OrderPlaced;
use crate::{logs, support};

/// What the audit subscriber's wrapper saw of each message: topic, `Trace-Id`, message id.
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

/// One publisher alternating protobuf and JSON; two servers in queue group `billing` and one
/// broadcast `audit` server behind a wrapper. Checks: the group gets each event once, the audit
/// server all of them, with the publisher's metadata, topic and id in the context; a message that
/// does not decode and a handler error are logged with topic and id, and later events still
/// arrive; subscriber endpoints are advertised as go-micro's.
pub async fn typed_subscribers(make: &dyn Fn() -> Arc<dyn Broker>) {
    const N: u64 = 50;
    const REFUSED: u64 = 7;
    let logs = logs::capture();
    let topic = unique_topic("orders");
    let registry = support::registry();

    let group = Received::default();
    let mut running = Vec::new();
    for _ in 0..2 {
        let group = group.clone();
        let server = Server::new("billing")
            .registry(Arc::clone(&registry))
            .broker(make())
            .subscribe_with(
                &topic,
                SubscribeOptions::new().queue("billing"),
                move |_ctx, event: OrderPlaced| {
                    let group = group.clone();
                    async move {
                        group.push(event.seq);
                        Ok(())
                    }
                },
            );
        running.push(server.start().await.expect("billing starts"));
    }

    let audited = Received::default();
    let seen: Seen = Arc::default();
    let refused_id = Arc::new(Mutex::new(String::new()));
    let audit = {
        let (audited, seen, refused_id) =
            (audited.clone(), Arc::clone(&seen), Arc::clone(&refused_id));
        Server::new("audit")
            .registry(Arc::clone(&registry))
            .broker(make())
            .subscriber_layer(from_fn(
                move |delivery: SubscriberRequest, next: Next<SubscriberRequest, ()>| {
                    let ctx = delivery.ctx();
                    let trace = ctx.metadata().get("Trace-Id").unwrap_or("").to_string();
                    seen.lock().unwrap().push((
                        ctx.topic().to_string(),
                        trace,
                        ctx.request_id().to_string(),
                    ));
                    next.run(delivery)
                },
            ))
            .subscribe(&topic, move |ctx: Context, event: OrderPlaced| {
                let (audited, refused_id) = (audited.clone(), Arc::clone(&refused_id));
                async move {
                    if event.seq == REFUSED {
                        *refused_id.lock().unwrap() = ctx.request_id().to_string();
                        return Err(
                            Error::internal_server_error("refusing this order").with_id("audit")
                        );
                    }
                    audited.push(event.seq);
                    Ok(())
                }
            })
    };
    running.push(audit.start().await.expect("audit starts"));

    let broker = make();
    let protobuf = Publisher::<OrderPlaced>::new(Arc::clone(&broker), &topic);
    let json = protobuf.clone().content_type(ContentType::JSON);
    let ctx = Context::new().with_metadata("Trace-Id", "trace-42");
    for seq in 0..N {
        if seq == N / 2 {
            // Not protobuf at all: reported, and the subscription goes on.
            let garbage = Message::new(&b"\xff\xff\xff not an order"[..])
                .with_header("Content-Type", "application/protobuf")
                .with_header("Micro-Topic", topic.as_str())
                .with_header("Micro-Id", "malformed-1");
            broker.publish(&topic, garbage).await.expect("publish");
        }
        let event = OrderPlaced {
            seq,
            order_id: format!("o-{seq}"),
            amount_cents: 100,
        };
        let publisher = if seq % 2 == 0 { &protobuf } else { &json };
        publisher.publish(&ctx, &event).await.expect("publish");
    }

    let mut billed = group.wait_for(N as usize, "the billing group").await;
    billed.sort_unstable();
    assert_eq!(billed, (0..N).collect::<Vec<_>>(), "each event billed once");
    let expected: Vec<u64> = (0..N).filter(|s| *s != REFUSED).collect();
    assert_eq!(
        audited.wait_for(expected.len(), "audit").await,
        expected,
        "all but the refused one, in order"
    );

    // The layer sees every message delivered, the one that does not decode too (decoding is the
    // handler's side of the stack).
    let mut seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        N as usize + 1,
        "the layer ran once per delivered message"
    );
    let malformed = seen
        .iter()
        .position(|(_, _, id)| id == "malformed-1")
        .expect("the layer saw the malformed message");
    seen.remove(malformed);
    for (seen_topic, trace, id) in &seen {
        assert_eq!(
            (seen_topic.as_str(), trace.as_str()),
            (topic.as_str(), "trace-42")
        );
        assert_eq!(id.len(), 36, "Micro-Id is a UUID: {id:?}");
    }
    let refused = refused_id.lock().unwrap().clone();
    logs.wait_for(&[&topic, &refused, "refusing this order"], WAIT)
        .await;
    logs.wait_for(&[&topic, "malformed-1", "cannot decode"], WAIT)
        .await;

    let services = registry
        .get_service("audit")
        .await
        .expect("audit is registered");
    let endpoint = services[0]
        .endpoints
        .iter()
        .find(|e| e.name == "Func")
        .expect("a subscriber endpoint");
    assert_eq!(endpoint.metadata.get("topic"), Some(&topic));
    assert_eq!(
        endpoint.metadata.get("subscriber").map(String::as_str),
        Some("true")
    );
    assert_eq!(
        endpoint.request.as_ref().map(|v| v.type_name.as_str()),
        Some("OrderPlaced")
    );

    for server in running {
        server.stop().await.expect("stops");
    }
}
