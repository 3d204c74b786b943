//! The four rpc kinds over real sockets, and a client standing in for a streaming handler.

use micro_runtime::codec::ContentType;
use micro_runtime::stream;
use micro_runtime::{CallOptions, Context};
use tests::handlers::Streamer;
use tests::proto::streaming::{
    CountdownRequest, EchoMessage, Number, PingRequest, StreamerClient, StreamerHandler,
    StreamerServer, Tick,
};
use tests::support;

async fn setup() -> (micro_runtime::server::RunningServer, StreamerClient) {
    let registry = support::registry();
    let server = support::start("streaming", &registry, StreamerServer::new(Streamer)).await;
    (
        server,
        StreamerClient::new("streaming", support::client(&registry)),
    )
}

#[tokio::test]
async fn unary() {
    let (server, client) = setup().await;
    let reply = client
        .ping(PingRequest {
            payload: "x".into(),
        })
        .await
        .unwrap();
    assert_eq!(reply.payload, "x");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn server_streaming_delivers_every_message_then_ends() {
    let (server, client) = setup().await;
    for ct in [ContentType::PROTOBUF, ContentType::JSON] {
        let mut ticks = client
            .countdown_with(
                CountdownRequest { from: 5 },
                CallOptions::new().content_type(ct),
            )
            .await
            .unwrap();
        let mut values = Vec::new();
        while let Some(tick) = ticks.recv().await.unwrap() {
            values.push(tick.value);
        }
        assert_eq!(values, [5, 4, 3, 2, 1], "{ct}");
        assert_eq!(ticks.recv().await.unwrap(), None, "stays ended");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_long_server_stream_arrives_in_order_and_ends_with_the_handlers_error() {
    let (server, client) = setup().await;
    // 20,000 messages: more than any buffer, so back-pressure and write batching are exercised.
    // The handler fails on purpose after sending 13.
    let mut ticks = client
        .countdown(CountdownRequest { from: 20_000 })
        .await
        .unwrap();
    let mut expected = 20_000;
    let err = loop {
        match ticks.recv().await {
            Ok(Some(Tick { value })) => {
                assert_eq!(value, expected);
                expected -= 1;
            }
            Ok(None) => panic!("the stream should end with the handler's error"),
            Err(err) => break err,
        }
    };
    assert_eq!(expected, 12, "every tick down to 13 arrived");
    assert_eq!(err.detail, "unlucky thirteen");
    assert_eq!(err.code, 500);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn client_streaming_closes_its_side_and_then_reads_the_reply() {
    let (server, client) = setup().await;
    for ct in [ContentType::PROTOBUF, ContentType::JSON] {
        let sum = client
            .sum_with(CallOptions::new().content_type(ct))
            .await
            .unwrap();
        for value in 1..=100 {
            sum.send(Number { value }).await.unwrap();
        }
        let total = sum.close_and_recv().await.unwrap();
        assert_eq!((total.sum, total.count), (5050, 100), "{ct}");
    }
    // Nothing sent at all is a valid stream too.
    let total = client.sum().await.unwrap().close_and_recv().await.unwrap();
    assert_eq!((total.sum, total.count), (0, 0));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn bidi_streams_interleave_and_split() {
    let (server, client) = setup().await;
    let mut echo = client.echo().await.unwrap();
    // Lock-step: each message comes back before the next is sent.
    for seq in 0..10 {
        echo.send(EchoMessage {
            text: format!("m{seq}"),
            seq,
        })
        .await
        .unwrap();
        let back = echo.recv().await.unwrap().unwrap();
        assert_eq!(
            (back.text.as_str(), back.seq),
            (format!("m{seq}").as_str(), seq)
        );
    }
    // Split: one task sends everything while this one reads.
    let (sender, mut receiver) = echo.split();
    let sending = tokio::spawn(async move {
        for seq in 10..1010 {
            sender
                .send(EchoMessage {
                    text: String::new(),
                    seq,
                })
                .await
                .unwrap();
        }
        sender.close().await.unwrap();
    });
    let mut next = 10;
    while let Some(message) = receiver.recv().await.unwrap() {
        assert_eq!(message.seq, next);
        next += 1;
    }
    assert_eq!(next, 1010);
    sending.await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_stream_error_from_the_handler_reaches_the_caller() {
    let (server, client) = setup().await;
    let mut ticks = client
        .countdown(CountdownRequest { from: 2_000_000 })
        .await
        .unwrap();
    let err = ticks.recv().await.unwrap_err();
    assert_eq!(err.code, 400);
    assert_eq!(err.detail, "from is too large");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_client_stands_in_for_every_kind_of_streaming_handler() {
    let (server, client) = setup().await;
    let ctx = Context::new;

    // Server streaming: the client relays the remote stream into the handler's sender.
    let (tx, mut rx) = stream::channel(4);
    let relay = tokio::spawn({
        let client = client.clone();
        async move { StreamerHandler::countdown(&client, ctx(), CountdownRequest { from: 3 }, tx).await }
    });
    let mut values = Vec::new();
    while let Some(tick) = rx.recv().await.unwrap() {
        values.push(tick.value);
    }
    relay.await.unwrap().unwrap();
    assert_eq!(values, [3, 2, 1]);

    // Client streaming.
    let (tx, rx) = stream::channel(4);
    let relay = tokio::spawn({
        let client = client.clone();
        async move { StreamerHandler::sum(&client, ctx(), rx).await }
    });
    for value in [1, 2, 3] {
        tx.send(Number { value }).await.unwrap();
    }
    drop(tx);
    assert_eq!(relay.await.unwrap().unwrap().sum, 6);

    // Bidi.
    let (in_tx, in_rx) = stream::channel(4);
    let (out_tx, mut out_rx) = stream::channel(4);
    let relay = tokio::spawn({
        let client = client.clone();
        async move { StreamerHandler::echo(&client, ctx(), in_rx, out_tx).await }
    });
    in_tx
        .send(EchoMessage {
            text: "a".into(),
            seq: 1,
        })
        .await
        .unwrap();
    assert_eq!(out_rx.recv().await.unwrap().unwrap().text, "a");
    drop(in_tx);
    assert_eq!(out_rx.recv().await.unwrap(), None);
    relay.await.unwrap().unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn handlers_can_be_called_in_process_without_sockets() {
    let (tx, rx) = stream::channel(8);
    for value in [10, 20] {
        tx.send(Number { value }).await.unwrap();
    }
    drop(tx);
    let total = Streamer.sum(Context::new(), rx).await.unwrap();
    assert_eq!(total.sum, 30);
}

/// On the wire, as a go-micro client sees it: each message frame carries only `Content-Type` and
/// `Micro-Id` (the client reads nothing else there), and the final `EOS` frame carries the
/// routing headers go-micro's server sends.
#[tokio::test]
async fn server_stream_frames_on_the_wire() {
    use bytes::BytesMut;
    use micro_runtime::transport::{FrameReader, Headers, Limits, StartLine, encode_request};
    use prost::Message;
    use tokio::io::AsyncWriteExt;

    let (server, _client) = setup().await;
    let mut socket = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    let mut headers = Headers::new();
    for (name, value) in [
        ("Content-Type", "application/protobuf"),
        ("Micro-Service", "streaming"),
        ("Micro-Endpoint", "Streamer.Countdown"),
        ("Micro-Id", "7"),
        ("Micro-Stream", "7"),
    ] {
        headers.insert(name, value);
    }
    // go-micro's init frame (empty body), then the request as the second frame.
    let mut wire = BytesMut::new();
    encode_request(&mut wire, "server", &headers, b"");
    encode_request(
        &mut wire,
        "server",
        &headers,
        &CountdownRequest { from: 3 }.encode_to_vec(),
    );
    socket.write_all(&wire).await.unwrap();

    let mut reader = FrameReader::new(socket, Limits::default());
    for expected in [3, 2, 1] {
        let frame = reader.read_response().await.unwrap().unwrap();
        assert!(matches!(
            frame.start,
            StartLine::Response { status: 200, .. }
        ));
        let mut names: Vec<_> = frame.headers.iter().map(|(n, _)| n.to_string()).collect();
        names.sort();
        assert_eq!(names, ["Content-Length", "Content-Type", "Micro-Id"]);
        assert_eq!(frame.headers.get("Micro-Id"), Some("7"));
        assert_eq!(Tick::decode(frame.body).unwrap().value, expected);
    }
    let end = reader.read_response().await.unwrap().unwrap();
    assert_eq!(end.headers.get("Micro-Error"), Some("EOS"));
    assert_eq!(
        end.headers.get("Micro-Endpoint"),
        Some("Streamer.Countdown")
    );
    assert_eq!(end.headers.get("Micro-Stream"), Some("7"));
    assert!(end.body.is_empty());
    server.stop().await.unwrap();
}
