//! What every transport must carry: unary calls with their errors and metadata, the three stream
//! kinds, deadlines, hang-ups, concurrency and a graceful stop. Run by the default transport's
//! tests (`tests/tests/transport.rs`) and by each other transport's, so that a transport written
//! in another crate is held to the same behaviour.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::TryStreamExt;
use micro_runtime::client::ClientOptions;
use micro_runtime::registry::Registry;
use micro_runtime::server::{Handler, RunningServer, Server};
use micro_runtime::transport::Transport;
use micro_runtime::{CallOptions, Client};
use tokio::sync::mpsc;

use crate::handlers::{Greeter, Probe, Streamer};
use crate::proto::greeter::{GreeterClient, GreeterServer, HelloRequest};
use crate::proto::streaming::{
    CountdownRequest, EchoMessage, Number, StreamerClient, StreamerHandler, StreamerServer,
};
use crate::support;

/// Every test of this suite as a `#[tokio::test]`, run by `$run`: an async fn that takes one
/// suite test (`FnOnce(Arc<dyn Transport>) -> impl Future<Output = ()>`) and runs it on its
/// transport. A test added here runs on every transport.
#[macro_export]
macro_rules! transport_suite_tests {
    ($run:path) => {
        $crate::transport_suite_tests!(@each $run;
            unary_calls_errors_and_metadata,
            every_stream_kind,
            deadlines,
            a_hang_up_stops_the_handler,
            concurrent_calls,
            stop_finishes_calls_in_flight
        );
    };
    (@each $run:path; $($name:ident),*) => {
        $(#[tokio::test] async fn $name() { $run($crate::transport_suite::$name).await; })*
    };
}

/// Starts `handler` as `name` on `transport`.
pub async fn start(
    name: &str,
    transport: &Arc<dyn Transport>,
    registry: &Arc<dyn Registry>,
    handler: impl Handler,
) -> RunningServer {
    Server::new(name)
        .registry(Arc::clone(registry))
        .transport(Arc::clone(transport))
        .handle(handler)
        .start()
        .await
        .expect("the server starts on the transport")
}

/// A client dialling with `transport`.
pub fn client(transport: &Arc<dyn Transport>, registry: &Arc<dyn Registry>) -> Client {
    let options = ClientOptions::default().transport(Arc::clone(transport));
    Client::with_options(Arc::clone(registry), options)
}

/// A greeter served on `transport`, its handler (to count calls) and a client of it.
async fn greeter(transport: &Arc<dyn Transport>) -> (RunningServer, Greeter, GreeterClient) {
    let registry = support::registry();
    let greeter = Greeter::default();
    let server = start(
        "greeter",
        transport,
        &registry,
        GreeterServer::new(greeter.clone()),
    )
    .await;
    let client = GreeterClient::new("greeter", client(transport, &registry));
    (server, greeter, client)
}

/// A streamer (`handler`) served on `transport`, and a client of it.
async fn streamer(
    transport: &Arc<dyn Transport>,
    handler: impl StreamerHandler,
) -> (RunningServer, StreamerClient) {
    let registry = support::registry();
    let server = start(
        "streamer",
        transport,
        &registry,
        StreamerServer::new(handler),
    )
    .await;
    (
        server,
        StreamerClient::new("streamer", client(transport, &registry)),
    )
}

fn hello(name: &str) -> HelloRequest {
    HelloRequest { name: name.into() }
}

/// Replies, application errors (with the service's id) and metadata cross the transport.
pub async fn unary_calls_errors_and_metadata(transport: Arc<dyn Transport>) {
    let (server, _, client) = greeter(&transport).await;

    let reply = client.hello(hello("John")).await.unwrap();
    assert_eq!(reply.greeting, "Hello John");
    let err = client.hello(hello("")).await.unwrap_err();
    assert_eq!((err.code, err.id.as_str()), (400, "greeter"), "{err}");
    let traced = client
        .hello_with(
            hello("echo-metadata"),
            CallOptions::new().metadata("Trace-Id", "t-1"),
        )
        .await
        .unwrap();
    assert_eq!(traced.greeting, "t-1");
    let err = client.hello(hello("panic")).await.unwrap_err();
    assert_eq!(err.code, 500, "{err}");
    // The connection survived all of that.
    assert_eq!(
        client.hello(hello("again")).await.unwrap().greeting,
        "Hello again"
    );
    server.stop().await.unwrap();
}

/// Server, client and bidirectional streams, and a stream that ends with an error.
pub async fn every_stream_kind(transport: Arc<dyn Transport>) {
    let (server, client) = streamer(&transport, Streamer).await;

    let ticks: Vec<u32> = client
        .countdown(CountdownRequest { from: 5 })
        .await
        .unwrap()
        .map_ok(|tick| tick.value)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ticks, [5, 4, 3, 2, 1]);

    let mut unlucky = client
        .countdown(CountdownRequest { from: 20 })
        .await
        .unwrap();
    let mut seen = 0;
    let err = loop {
        match unlucky.recv().await {
            Ok(Some(_)) => seen += 1,
            Ok(None) => panic!("the stream ended without its error"),
            Err(err) => break err,
        }
    };
    assert_eq!((seen, err.code), (8, 500), "{err}");
    assert!(err.detail.contains("unlucky thirteen"), "{err}");

    let sum = client.sum().await.unwrap();
    for value in 1..=100 {
        sum.send(Number { value }).await.unwrap();
    }
    let total = sum.close_and_recv().await.unwrap();
    assert_eq!((total.sum, total.count), (5050, 100));

    let (sender, receiver) = client.echo().await.unwrap().split();
    let texts: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
    for text in &texts {
        sender.send(echo(text)).await.unwrap();
    }
    drop(sender);
    let echoed: Vec<String> = receiver.map_ok(|m| m.text).try_collect().await.unwrap();
    assert_eq!(echoed, texts);
    server.stop().await.unwrap();
}

fn echo(text: &str) -> EchoMessage {
    EchoMessage {
        text: text.into(),
        ..EchoMessage::default()
    }
}

/// A call's timeout ends it with a 408, and the connection is not reused mid-reply.
pub async fn deadlines(transport: Arc<dyn Transport>) {
    let (server, _, client) = greeter(&transport).await;
    let options = CallOptions::new().timeout(Duration::from_millis(100));
    let err = client.hello_with(hello("slow"), options).await.unwrap_err();
    assert_eq!(err.code, 408, "{err}");
    assert_eq!(
        client.hello(hello("after")).await.unwrap().greeting,
        "Hello after"
    );
    server.stop().await.unwrap();
}

/// Dropping a whole stream hangs up: the server stops the handler.
pub async fn a_hang_up_stops_the_handler(transport: Arc<dyn Transport>) {
    let (tx, mut ended) = mpsc::unbounded_channel();
    let (server, client) = streamer(&transport, Probe { ended: tx }).await;
    let mut stream = client.echo().await.unwrap();
    stream.send(echo("a")).await.unwrap();
    assert_eq!(stream.recv().await.unwrap().unwrap().text, "a");
    drop(stream);
    let how = tokio::time::timeout(Duration::from_secs(10), ended.recv())
        .await
        .expect("the handler ends");
    assert_eq!(how, Some("cancelled"));
    server.stop().await.unwrap();
}

/// Many calls at once, on as many connections as the pool needs, all answered.
pub async fn concurrent_calls(transport: Arc<dyn Transport>) {
    let (server, greeter, client) = greeter(&transport).await;
    let calls = (0..64).map(|i| {
        let client = client.clone();
        async move { client.hello(hello(&format!("n{i}"))).await }
    });
    let replies = futures_util::future::join_all(calls).await;
    for (i, reply) in replies.into_iter().enumerate() {
        assert_eq!(reply.unwrap().greeting, format!("Hello n{i}"));
    }
    assert_eq!(greeter.calls.load(Ordering::SeqCst), 64);
    server.stop().await.unwrap();
}

/// A call in flight when the server stops is finished, not cut off.
pub async fn stop_finishes_calls_in_flight(transport: Arc<dyn Transport>) {
    let (server, greeter, client) = greeter(&transport).await;
    let slow = tokio::spawn(async move { client.hello(hello("slow")).await });
    tokio::time::timeout(Duration::from_secs(10), async {
        while greeter.calls.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the slow call reaches the handler");
    server.stop().await.unwrap();
    assert_eq!(slow.await.unwrap().unwrap().greeting, "Hello slow");
}
