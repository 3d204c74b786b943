//! Replays what go-micro v6.10.0's brokers published (`go-micro-wire/pubsub-*`) to micro's.
//!
//! The HTTP broker's POSTs to a subscriber inbox (`pubsub-http-*/c2s.bin`) go to a micro HTTP
//! broker's inbox, whole and one byte per write, addressed to a micro subscription: the inbox must
//! answer as go-micro's did (`s2c.bin`: 200, empty body), and the subscriber must get the event
//! with go-micro's headers and body, a raw subscription and a typed one through the server alike.
//! The NATS broker's envelopes (`PUB` from the publisher, `MSG` to the subscriber) go through
//! micro's envelope decoder.

use std::sync::Arc;
use std::time::Duration;

use micro_runtime::broker::http::{HttpBroker, SERVICE_NAME};
use micro_runtime::broker::{Broker, Message, SubscribeOptions, decode_envelope, event_handler};
use micro_runtime::codec::ContentType;
use micro_runtime::registry::Registry;
use micro_runtime::server::Server;
use micro_runtime::transport::{Frame, FrameReader, Limits, StartLine};
use micro_runtime::{Context, Error};
use tests::go_server::request_frames;
use tests::proto::events::OrderPlaced;
use tests::{support, wire};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

// The longest any awaited event may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);

/// The event go-micro's test client published (README): `seq` 0 is left out of the encoding.
fn go_order() -> OrderPlaced {
    OrderPlaced {
        seq: 0,
        order_id: "go-order-0".into(),
        amount_cents: 250,
    }
}

/// The body go-micro encoded for `content_type`, as the README gives it.
fn go_body(content_type: &str) -> Vec<u8> {
    match content_type {
        "application/json" => b"{\"orderId\":\"go-order-0\",\"amountCents\":\"250\"}\n".to_vec(),
        "application/protobuf" => [&[0x12, 0x0a][..], b"go-order-0", &[0x18, 0xfa, 0x01]].concat(),
        other => panic!("no such capture: {other}"),
    }
}

/// What a go-micro subscriber would have handed its handler: the envelope's headers, read with
/// serde_json rather than micro.
fn go_headers(envelope: &[u8]) -> serde_json::Map<String, serde_json::Value> {
    let json: serde_json::Value = serde_json::from_slice(envelope).unwrap();
    json["Header"].as_object().unwrap().clone()
}

/// Checks a message micro decoded against go-micro's envelope: every header (names compared as
/// go-micro's canonical ones), the body, and the event it decodes to.
fn check_message(label: &str, envelope: &[u8], message: &Message) {
    let headers = go_headers(envelope);
    for (name, value) in &headers {
        assert_eq!(message.get(name), value.as_str(), "{label}: header {name}");
    }
    assert_eq!(message.get("Micro-Topic"), Some("orders"), "{label}");
    assert_eq!(
        message.id(),
        headers["Micro-ID"].as_str().unwrap(),
        "{label}: Micro-Id"
    );
    let content_type = message.get("Content-Type").unwrap();
    assert_eq!(message.body, go_body(content_type), "{label}: body");
    let order: OrderPlaced = ContentType::from_header(Some(content_type))
        .unwrap()
        .decode(message.body.clone())
        .unwrap();
    assert_eq!(order, go_order(), "{label}");
}

/// The inbox ids of the `orders` subscriptions in `registry`.
async fn subscription_ids(registry: &Arc<dyn Registry>) -> Vec<String> {
    let services = registry.get_service(SERVICE_NAME).await.unwrap();
    let nodes = services.into_iter().flat_map(|s| s.nodes);
    nodes
        .filter(|n| n.metadata.get("topic").map(String::as_str) == Some("orders"))
        .map(|n| n.id)
        .collect()
}

/// go-micro's POST, addressed to subscription `id` instead of the Go subscriber's.
fn addressed_to(c2s: &[u8], id: &str) -> Vec<u8> {
    let text = std::str::from_utf8(c2s).expect("the POST is ASCII");
    let start = text.find("?id=").expect("an inbox id") + "?id=".len();
    let end = start + text[start..].find(' ').unwrap();
    let go_id = &text[start..end];
    assert!(go_id.starts_with("orders-"), "{go_id}");
    // The same length leaves every byte count in the capture as it was.
    assert_eq!(id.len(), go_id.len(), "micro's id {id} is go-micro's shape");
    let out = [&c2s[..start], id.as_bytes(), &c2s[end..]].concat();
    assert_eq!(out.len(), c2s.len());
    out
}

/// Sends `request` to the inbox as go-micro's publisher did, whole or one byte per write, and
/// reads the inbox's reply.
async fn post(inbox: &str, request: &[u8], bytewise: bool) -> Frame {
    let mut socket = TcpStream::connect(inbox).await.unwrap();
    socket.set_nodelay(true).unwrap();
    if bytewise {
        for byte in request {
            socket.write_all(std::slice::from_ref(byte)).await.unwrap();
        }
    } else {
        socket.write_all(request).await.unwrap();
    }
    let mut reader = FrameReader::new(socket, Limits::default());
    tokio::time::timeout(WAIT, reader.read_response())
        .await
        .expect("the inbox answers")
        .expect("a well-formed reply")
        .expect("a reply before the close")
}

/// Whether micro's inbox reply means what go-micro's did: status and body.
async fn same_reply(label: &str, go_s2c: &[u8], micro: &Frame) {
    let mut reader = FrameReader::new(go_s2c, Limits::default());
    let go = reader.read_response().await.unwrap().unwrap();
    let status = |frame: &Frame| match frame.start {
        StartLine::Response { status, .. } => status,
        StartLine::Request { .. } => panic!("{label}: a request in a reply"),
    };
    assert_eq!(status(micro), status(&go), "{label}: status");
    assert_eq!(micro.body, go.body, "{label}: body");
}

async fn next<T>(rx: &mut mpsc::UnboundedReceiver<T>, label: &str) -> T {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap_or_else(|_| panic!("{label}: the subscriber hears of it"))
        .unwrap()
}

#[tokio::test]
async fn go_micro_publishers_posts_reach_micro_subscribers() {
    let registry = support::registry();
    let broker: Arc<dyn Broker> = Arc::new(HttpBroker::new(Arc::clone(&registry)));

    // A raw subscription sees the message as it came: headers and body.
    let (raw_tx, mut raw_rx) = mpsc::unbounded_channel();
    let handler = event_handler(move |event| {
        let _ = raw_tx.send(event.message().clone());
        async { Ok(()) }
    });
    let raw = broker
        .subscribe("orders", handler, SubscribeOptions::new())
        .await
        .unwrap();
    let raw_id = subscription_ids(&registry).await.remove(0);

    // A typed subscriber through a server sees the decoded event and its context.
    let (typed_tx, mut typed_rx) = mpsc::unbounded_channel();
    let server = Server::new("orders-listener")
        .address("127.0.0.1:0")
        .registry(Arc::clone(&registry))
        .broker(Arc::clone(&broker))
        .subscribe("orders", move |ctx: Context, order: OrderPlaced| {
            let seen = (ctx.topic().to_string(), ctx.request_id().to_string(), order);
            let _ = typed_tx.send(seen);
            std::future::ready(Ok::<(), Error>(()))
        })
        .start()
        .await
        .unwrap();
    let typed_id = subscription_ids(&registry)
        .await
        .into_iter()
        .find(|id| *id != raw_id)
        .expect("the server's subscription is registered");

    for scenario in ["pubsub-http-json", "pubsub-http-protobuf"] {
        let c2s = wire::read(&format!("{scenario}/c2s.bin"));
        let s2c = wire::read(&format!("{scenario}/s2c.bin"));
        let envelope = request_frames(&c2s).await.remove(0).body;
        let micro_id = go_headers(&envelope)["Micro-ID"]
            .as_str()
            .unwrap()
            .to_string();
        for bytewise in [false, true] {
            let how = if bytewise { "byte by byte" } else { "whole" };

            let label = format!("{scenario} ({how}) to a raw subscription");
            let reply = post(&broker.address(), &addressed_to(&c2s, &raw_id), bytewise).await;
            same_reply(&label, &s2c, &reply).await;
            check_message(&label, &envelope, &next(&mut raw_rx, &label).await);

            let label = format!("{scenario} ({how}) to a typed subscriber");
            let reply = post(&broker.address(), &addressed_to(&c2s, &typed_id), bytewise).await;
            same_reply(&label, &s2c, &reply).await;
            let (topic, id, order) = next(&mut typed_rx, &label).await;
            assert_eq!(
                (topic.as_str(), id.as_str()),
                ("orders", micro_id.as_str()),
                "{label}"
            );
            assert_eq!(order, go_order(), "{label}");
        }
    }
    // Each POST reached the one subscription it named.
    assert!(raw_rx.try_recv().is_err() && typed_rx.try_recv().is_err());
    server.stop().await.unwrap();
    raw.unsubscribe().await.unwrap();
    broker.disconnect().await.unwrap();
}

/// The payloads of every `verb` (`PUB` or `MSG`) in a NATS protocol stream: the size is the
/// line's last field, and the payload follows the line.
fn nats_payloads<'a>(wire: &'a [u8], verb: &str) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = wire;
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let line = std::str::from_utf8(&rest[..eol]).unwrap();
        rest = &rest[eol + 2..];
        if line.split(' ').next() == Some(verb) {
            let size: usize = line.rsplit(' ').next().unwrap().parse().unwrap();
            out.push(&rest[..size]);
            assert_eq!(
                &rest[size..size + 2],
                b"\r\n",
                "{line}: payload ends the line"
            );
            rest = &rest[size + 2..];
        }
    }
    out
}

#[tokio::test]
async fn go_micro_nats_envelopes_decode_to_go_micros_events() {
    let published = [
        ("pubsub-nats-json/c2s.bin", "PUB", 1),
        ("pubsub-nats-protobuf/c2s.bin", "PUB", 1),
        // The subscriber's connection carried both: the JSON event, then the protobuf one.
        ("pubsub-nats-subscriber/s2c.bin", "MSG", 2),
    ];
    for (file, verb, count) in published {
        let capture = wire::read(file);
        let payloads = nats_payloads(&capture, verb);
        assert_eq!(payloads.len(), count, "{file}");
        for envelope in payloads {
            let message = decode_envelope(envelope).unwrap_or_else(|e| panic!("{file}: {e}"));
            check_message(file, envelope, &message);
        }
    }
}
