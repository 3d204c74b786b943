//! One broker message must not freeze a process: an HTTP-broker envelope with 200k headers (2.6 MB)
//! once stalled the subscriber's inbox and the same process's RPC server for seconds. Now the
//! inbox refuses it at once with a 400, and both go on serving.

use std::sync::Arc;
use std::time::{Duration, Instant};

use micro_runtime::broker::http::{HttpBroker, SERVICE_NAME};
use micro_runtime::broker::{Broker, MAX_HEADERS};
use micro_runtime::registry::Registry;
use micro_runtime::server::Server;
use micro_runtime::{Context, Error, Publisher};
use tests::broker_suite::{Received, WAIT, unique_topic};
use tests::handlers::Greeter;
use tests::proto::events::OrderPlaced;
use tests::proto::greeter::{GreeterClient, GreeterServer, HelloRequest};
use tests::support;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// The id the subscriber node of `topic` registered, for the inbox's `?id=`.
async fn node_id(registry: &Arc<dyn Registry>, topic: &str) -> String {
    let services = registry.get_service(SERVICE_NAME).await.unwrap();
    services
        .into_iter()
        .flat_map(|s| s.nodes)
        .find(|n| n.metadata.get("topic").map(String::as_str) == Some(topic))
        .expect("the subscriber is registered")
        .id
}

/// A go-micro envelope for `topic` with `n` headers in all, as JSON.
fn envelope_with_headers(topic: &str, n: usize) -> String {
    let mut json = format!(r#"{{"Header":{{"Micro-Topic":"{topic}""#);
    for i in 1..n {
        json.push_str(&format!(r#","h{i}":"v""#));
    }
    json.push_str(r#"},"Body":""}"#);
    json
}

/// POSTs `body` to the inbox at `address` over a fresh connection; the reply's status line and
/// text, and how long the reply took once the request was written.
async fn post(address: &str, id: &str, body: &str) -> (String, String, Duration) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /?id={id} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let written = Instant::now();
    let mut reply = String::new();
    tokio::time::timeout(WAIT, stream.read_to_string(&mut reply))
        .await
        .expect("the inbox answers")
        .unwrap();
    let took = written.elapsed();
    let (head, text) = reply.split_once("\r\n\r\n").expect("a complete reply");
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, text.to_string(), took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_envelope_of_200k_headers_is_refused_at_once_and_the_process_goes_on_serving() {
    let registry = support::registry();
    let topic = unique_topic("flood");
    let broker = Arc::new(HttpBroker::new(Arc::clone(&registry)));
    let received = Received::default();
    let recorder = received.clone();
    let running = Server::new("flooded")
        .address("127.0.0.1:0")
        .registry(Arc::clone(&registry))
        .broker(Arc::clone(&broker) as Arc<dyn Broker>)
        .handle(GreeterServer::new(Greeter::default()))
        .subscribe(&topic, move |_ctx: Context, event: OrderPlaced| {
            recorder.push(event.seq);
            std::future::ready(Ok::<(), Error>(()))
        })
        .start()
        .await
        .unwrap();
    let inbox = Broker::address(&*broker);
    let id = node_id(&registry, &topic).await;

    // RPC calls to the same process, one after another, for as long as the flood is handled.
    let (done, mut finished) = watch::channel(false);
    let client = GreeterClient::new("flooded", support::client(&registry));
    let calls = tokio::spawn(async move {
        let mut answered = 0;
        loop {
            let hello = HelloRequest {
                name: "meanwhile".into(),
            };
            let reply = tokio::time::timeout(Duration::from_secs(5), client.hello(hello))
                .await
                .expect("an RPC call is answered while the flood is handled")
                .expect("the RPC call succeeds");
            assert_eq!(reply.greeting, "Hello meanwhile");
            answered += 1;
            if *finished.borrow_and_update() && answered > 1 {
                return answered;
            }
        }
    });

    let flood = envelope_with_headers(&topic, 200_000);
    let (status, text, took) = post(&inbox, &id, &flood).await;
    println!(
        "an envelope of 200000 headers ({} bytes) was refused {took:?} after it was written",
        flood.len()
    );
    assert_eq!(status, "HTTP/1.1 400 Bad Request", "{text}");
    assert!(text.contains("has 200000 headers"), "{text}");
    assert!(text.contains(&format!("at most {MAX_HEADERS}")), "{text}");
    // Generous: a debug build on a shared machine. It took 30 s before the limit.
    assert!(took < Duration::from_secs(2), "took {took:?}");
    done.send_replace(true);
    let answered = calls.await.unwrap();
    println!("{answered} RPC calls answered meanwhile");

    // A legitimate message published right after is delivered.
    let publisher = Arc::new(HttpBroker::new(Arc::clone(&registry)));
    let order = OrderPlaced {
        seq: 7,
        ..OrderPlaced::default()
    };
    Publisher::<OrderPlaced>::new(Arc::clone(&publisher) as Arc<dyn Broker>, &topic)
        .publish(&Context::new(), &order)
        .await
        .unwrap();
    assert_eq!(received.wait_for(1, "the legitimate message").await, [7]);

    publisher.disconnect().await.unwrap();
    running.stop().await.unwrap();
}
