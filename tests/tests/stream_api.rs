//! The stream types callers and handlers share: `Stream` and `Sink`, `send(&self)`, and what
//! dropping each half means on the wire. (Dropping the whole stream, a hang-up, is in the
//! transport suite, which runs on every transport.)

use std::time::Duration;

use futures_util::{SinkExt, StreamExt, TryStreamExt};
use tests::handlers::{Probe, Streamer};
use tests::proto::streaming::{
    CountdownRequest, EchoMessage, Number, StreamerClient, StreamerHandler, StreamerServer, Tick,
};
use tests::support;
use tokio::sync::mpsc;

async fn setup(
    handler: impl StreamerHandler,
) -> (micro_runtime::server::RunningServer, StreamerClient) {
    let registry = support::registry();
    let server = support::start("streamer", &registry, StreamerServer::new(handler)).await;
    (
        server,
        StreamerClient::new("streamer", support::client(&registry)),
    )
}

#[tokio::test]
async fn a_server_stream_is_a_futures_stream() {
    let (server, client) = setup(Streamer).await;
    let ticks: Vec<Tick> = client
        .countdown(CountdownRequest { from: 4 })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        ticks.iter().map(|t| t.value).collect::<Vec<_>>(),
        [4, 3, 2, 1]
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_client_stream_is_fed_by_forwarding_into_its_sink() {
    let (server, client) = setup(Streamer).await;
    let sum = client.sum().await.unwrap();
    let numbers = futures_util::stream::iter((1..=100).map(|value| Ok(Number { value })));
    // `forward` closes the sink at the end: that sends EOS.
    numbers.forward(sum.sender().clone()).await.unwrap();
    let total = sum.close_and_recv().await.unwrap();
    assert_eq!((total.sum, total.count), (5050, 100));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn clones_of_a_sender_send_on_one_stream() {
    let (server, client) = setup(Streamer).await;
    let sum = client.sum().await.unwrap();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let sender = sum.sender().clone();
            tokio::spawn(async move {
                for value in 1..=10 {
                    sender.send(Number { value }).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let total = sum.close_and_recv().await.unwrap();
    assert_eq!((total.sum, total.count), (220, 40));
    server.stop().await.unwrap();
}

fn echo(text: &str) -> EchoMessage {
    EchoMessage {
        text: text.into(),
        ..EchoMessage::default()
    }
}

#[tokio::test]
async fn dropping_the_sender_ends_the_callers_side_and_replies_still_arrive() {
    let (tx, mut ended) = mpsc::unbounded_channel();
    let (server, client) = setup(Probe { ended: tx }).await;
    let (sender, receiver) = client.echo().await.unwrap().split();
    sender.send(echo("a")).await.unwrap();
    sender.send(echo("b")).await.unwrap();
    drop(sender);
    let replies: Vec<String> = receiver.map_ok(|m| m.text).try_collect().await.unwrap();
    assert_eq!(replies, ["a", "b"]);
    assert_eq!(ended.recv().await, Some("eos"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_sink_send_past_the_deadline_fails_with_408() {
    // Nobody reads the server's echoes, so its handler blocks, the connection backs up, and
    // the caller's sends stop being taken: the deadline ends the wait.
    let (server, client) = setup(Streamer).await;
    let options = micro_runtime::CallOptions::new().timeout(Duration::from_millis(500));
    let (mut sender, receiver) = client.echo_with(options).await.unwrap().split();
    let big = EchoMessage {
        text: "x".repeat(64 * 1024),
        ..EchoMessage::default()
    };
    let mut outcome = Ok(());
    for _ in 0..10_000 {
        outcome = SinkExt::send(&mut sender, big.clone()).await;
        if outcome.is_err() {
            break;
        }
    }
    let err = outcome.unwrap_err();
    assert_eq!(err.code, 408, "{err}");
    drop((sender, receiver));
    server.stop().await.unwrap();
}
