//! The MessagePack codec, from outside micro-runtime: every rpc kind and pub/sub carry
//! `application/msgpack` bodies end to end, over real sockets.

use std::sync::Arc;

use futures_util::TryStreamExt;
use micro_plugins::MSGPACK;
use micro_runtime::broker::{Broker, MemoryBroker};
use micro_runtime::codec::ContentType;
use micro_runtime::server::Server;
use micro_runtime::{CallOptions, Client, Publisher};
use tests::handlers::{Greeter, Streamer};
use tests::proto::events::OrderPlaced;
use tests::proto::greeter::{GreeterClient, GreeterServer, HelloRequest};
use tests::proto::streaming::{
    CountdownRequest, EchoMessage, Number, StreamerClient, StreamerServer,
};
use tests::support;

fn msgpack() -> CallOptions {
    CallOptions::new().content_type(MSGPACK)
}

#[tokio::test]
async fn every_rpc_kind_speaks_msgpack() {
    let registry = support::registry();
    let server = Server::new("plugins")
        .registry(Arc::clone(&registry))
        .codec(MSGPACK)
        .handle(GreeterServer::new(Greeter::default()))
        .handle(StreamerServer::new(Streamer))
        .start()
        .await
        .unwrap();
    let client = Client::new(Arc::clone(&registry));
    let greeter = GreeterClient::new("plugins", client.clone());
    let reply = greeter
        .hello_with(HelloRequest { name: "Ann".into() }, msgpack())
        .await
        .unwrap();
    assert_eq!(reply.greeting, "Hello Ann");
    // An application error comes back as from any codec.
    let err = greeter
        .hello_with(HelloRequest::default(), msgpack())
        .await
        .unwrap_err();
    assert_eq!((err.code, err.id.as_str()), (400, "plugins"));

    let streamer = StreamerClient::new("plugins", client);
    let ticks: Vec<u32> = streamer
        .countdown_with(CountdownRequest { from: 5 }, msgpack())
        .await
        .unwrap()
        .map_ok(|tick| tick.value)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ticks, [5, 4, 3, 2, 1]);

    let sum = streamer.sum_with(msgpack()).await.unwrap();
    for value in 1..=10 {
        sum.send(Number { value }).await.unwrap();
    }
    let total = sum.close_and_recv().await.unwrap();
    assert_eq!((total.sum, total.count), (55, 10));

    let mut echo = streamer.echo_with(msgpack()).await.unwrap();
    for text in ["a", "b"] {
        echo.send(EchoMessage {
            text: text.into(),
            ..EchoMessage::default()
        })
        .await
        .unwrap();
        assert_eq!(echo.recv().await.unwrap().unwrap().text, text);
    }
    echo.close_send().await.unwrap();
    assert!(echo.recv().await.unwrap().is_none());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_server_without_the_codec_refuses_it_by_name() {
    let registry = support::registry();
    let server = support::start("plain", &registry, GreeterServer::new(Greeter::default())).await;
    let greeter = GreeterClient::new("plain", support::client(&registry));
    let err = greeter
        .hello_with(HelloRequest { name: "Ann".into() }, msgpack())
        .await
        .unwrap_err();
    assert_eq!(err.code, 415, "{err}");
    assert!(err.detail.contains("application/msgpack"), "{err}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn published_msgpack_events_reach_typed_subscribers() {
    let registry = support::registry();
    let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::new());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = Server::new("billing")
        .registry(Arc::clone(&registry))
        .broker(Arc::clone(&broker))
        .codec(MSGPACK)
        .subscribe("orders.msgpack", move |_ctx, order: OrderPlaced| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(order.seq);
                Ok(())
            }
        })
        .start()
        .await
        .unwrap();
    let publisher = Publisher::<OrderPlaced>::new(broker, "orders.msgpack").content_type(MSGPACK);
    for seq in 1..=3 {
        let order = OrderPlaced {
            seq,
            ..OrderPlaced::default()
        };
        publisher
            .publish(&Default::default(), &order)
            .await
            .unwrap();
    }
    for seq in 1..=3 {
        assert_eq!(rx.recv().await, Some(seq));
    }
    // Sanity: the bytes on the topic were not protobuf.
    assert_ne!(MSGPACK, ContentType::PROTOBUF);
    server.stop().await.unwrap();
}
