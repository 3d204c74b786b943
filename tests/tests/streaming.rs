//! The four rpc kinds over real sockets, and a client standing in for a streaming handler.

use futures_util::FutureExt;
use micro_runtime::client::BidiStream;
use micro_runtime::codec::ContentType;
use micro_runtime::registry::{Node, ServiceRecord};
use micro_runtime::stream;
use micro_runtime::transport::{Frame, FrameError, FrameReader, Limits};
use micro_runtime::{CallOptions, Context};
use tests::handlers::{Probe, Streamer};
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

// Hanging up. A caller that leaves a stream before the server ended it resets the connection, so
// the server cancels the handler even after the caller's `EOS`, when a FIN would only be a
// half-close. A caller that read the end closes with a FIN (micro-runtime's transport/hang_up.rs).

/// How long any awaited event may take before the test fails.
const WAIT: std::time::Duration = std::time::Duration::from_secs(20);

#[tokio::test]
async fn a_caller_that_leaves_after_its_end_of_input_stops_a_quiet_handler() {
    let registry = support::registry();
    let (ended, mut how) = tokio::sync::mpsc::unbounded_channel();
    let server = support::start("probe", &registry, StreamerServer::new(Probe { ended })).await;
    let client = StreamerClient::new("probe", support::client(&registry));
    // Probe's sum reads to the caller's `EOS`, reports it, and then answers nothing.
    let sum = client.sum().await.unwrap();
    sum.send(Number { value: 1 }).await.unwrap();
    sum.sender().close().await.unwrap();
    let eos = tokio::time::timeout(WAIT, how.recv()).await;
    assert_eq!(eos.expect("the handler reads the end"), Some("eos"));
    drop(sum);
    let ended = tokio::time::timeout(WAIT, how.recv()).await;
    assert_eq!(ended.expect("the handler is stopped"), Some("cancelled"));
    server.stop().await.unwrap();
}

/// How a stand-in server saw a caller's connection end.
#[derive(Debug, PartialEq)]
enum Closed {
    Fin,
    Reset,
}

/// A raw stand-in for a stream server, registered as `raw`, and a client that finds it.
struct StandIn {
    listener: tokio::net::TcpListener,
    client: micro_runtime::Client,
}

/// A caller's connection as the stand-in sees it: request frames in, raw bytes out.
struct Caller {
    frames: FrameReader<tokio::net::tcp::OwnedReadHalf>,
    write: tokio::net::tcp::OwnedWriteHalf,
}

impl StandIn {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let registry = support::registry();
        let node = Node {
            id: "raw-1".into(),
            address: listener.local_addr().unwrap().to_string(),
            ..Node::default()
        };
        let record = ServiceRecord {
            name: "raw".into(),
            nodes: vec![node],
            ..ServiceRecord::default()
        };
        registry.register(&record, None).await.unwrap();
        let client = support::client(&registry);
        Self { listener, client }
    }

    /// A JSON echo stream to the stand-in, and its caller as the stand-in sees it.
    async fn echo(&self) -> (BidiStream<EchoMessage, EchoMessage>, Caller) {
        let json = CallOptions::new().content_type(ContentType::JSON);
        let stream = self.client.open_stream("raw", "Streamer.Echo", &json);
        let stream = stream.await.unwrap();
        (stream, self.caller().await)
    }

    /// A JSON countdown (a server stream) from the stand-in, and its caller once the request came.
    async fn countdown(&self) -> (stream::Receiver<Tick>, Caller) {
        let json = CallOptions::new().content_type(ContentType::JSON);
        let streamer = StreamerClient::new("raw", self.client.clone());
        let ticks = streamer.countdown_with(CountdownRequest { from: 3 }, json);
        let ticks = ticks.await.unwrap();
        let mut caller = self.caller().await;
        assert!(caller.frame().await.is_some(), "the request");
        (ticks, caller)
    }

    /// The next caller, once its init frame has come.
    async fn caller(&self) -> Caller {
        let (socket, _) = tokio::time::timeout(WAIT, self.listener.accept())
            .await
            .expect("the caller connects")
            .unwrap();
        let (read, write) = socket.into_split();
        let mut caller = Caller {
            frames: FrameReader::new(read, Limits::default()),
            write,
        };
        let init = caller.frame().await.expect("an init frame");
        assert!(init.headers.get("Micro-Stream").is_some(), "{init:?}");
        caller
    }
}

impl Caller {
    /// The caller's next frame; `None` once it closed or reset the connection.
    async fn frame(&mut self) -> Option<Frame> {
        let read = tokio::time::timeout(WAIT, self.frames.read_request()).await;
        read.expect("the caller sends or closes").ok().flatten()
    }

    /// The caller's frames until it closes the connection, and how it closed it.
    async fn rest(&mut self) -> (Vec<Frame>, Closed) {
        let mut frames = Vec::new();
        loop {
            let read = tokio::time::timeout(WAIT, self.frames.read_request()).await;
            match read.expect("the caller closes the connection") {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => return (frames, Closed::Fin),
                Err(FrameError::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    return (frames, Closed::Reset);
                }
                Err(e) => panic!("unexpected read error: {e}"),
            }
        }
    }

    /// Sends a JSON message frame.
    async fn message(&mut self, body: &str) {
        let length = body.len();
        self.write(&format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n{body}"
        ))
        .await;
    }

    /// Ends the stream with `EOS` or an error.
    async fn end(&mut self, micro_error: &str) {
        self.write(&format!(
            "HTTP/1.1 200 OK\r\nMicro-Error: {micro_error}\r\nContent-Length: 0\r\n\r\n"
        ))
        .await;
    }

    async fn write(&mut self, frame: &str) {
        use tokio::io::AsyncWriteExt;
        self.write.write_all(frame.as_bytes()).await.unwrap();
    }
}

fn micro_error(frame: &Frame) -> Option<&str> {
    frame.headers.get_micro("Micro-Error")
}

#[tokio::test]
async fn a_stream_left_before_its_end_resets_the_connection() {
    let raw = StandIn::start().await;

    // Bidirectional, after one exchange.
    let (mut echo, mut caller) = raw.echo().await;
    echo.send(EchoMessage::default()).await.unwrap();
    assert!(caller.frame().await.is_some(), "the message");
    caller.message(r#"{"text":"a"}"#).await;
    assert_eq!(echo.recv().await.unwrap().unwrap().text, "a");
    drop(echo);
    assert_eq!(caller.rest().await.1, Closed::Reset);

    // Bidirectional, after the caller's own end: its `EOS` arrives, then the reset.
    let (echo, mut caller) = raw.echo().await;
    echo.close_send().await.unwrap();
    drop(echo);
    let (frames, closed) = caller.rest().await;
    assert_eq!(
        frames.iter().map(micro_error).collect::<Vec<_>>(),
        [Some("EOS")]
    );
    assert_eq!(closed, Closed::Reset);

    // A server stream, its request sent, dropped while a read waits.
    let (mut ticks, mut caller) = raw.countdown().await;
    assert!(
        ticks.recv().now_or_never().is_none(),
        "nothing was sent yet"
    );
    drop(ticks);
    assert_eq!(caller.rest().await.1, Closed::Reset);
}

#[tokio::test]
async fn a_stream_read_to_its_end_closes_the_connection_with_a_fin() {
    let raw = StandIn::start().await;

    // A bidirectional stream the server ended.
    let (mut echo, mut caller) = raw.echo().await;
    caller.message(r#"{"text":"b"}"#).await;
    caller.end("EOS").await;
    assert_eq!(echo.recv().await.unwrap().unwrap().text, "b");
    assert_eq!(echo.recv().await.unwrap(), None);
    drop(echo);
    assert_eq!(caller.rest().await.1, Closed::Fin);

    // A server stream that ended with an error.
    let (mut ticks, mut caller) = raw.countdown().await;
    let conflict = r#"{"id":"raw","code":409,"detail":"no","status":"Conflict"}"#;
    caller.end(conflict).await;
    assert_eq!(ticks.recv().await.unwrap_err().code, 409);
    drop(ticks);
    assert_eq!(caller.rest().await.1, Closed::Fin);

    // A client stream whose reply came: its `EOS` need not be waited for.
    let streamer = StreamerClient::new("raw", raw.client.clone());
    let json = CallOptions::new().content_type(ContentType::JSON);
    let sum = streamer.sum_with(json).await.unwrap();
    let mut caller = raw.caller().await;
    sum.send(Number { value: 2 }).await.unwrap();
    let reply = tokio::spawn(sum.close_and_recv());
    let frames = [caller.frame().await, caller.frame().await];
    assert_eq!(frames[1].as_ref().and_then(micro_error), Some("EOS"));
    caller.message(r#"{"sum":"2","count":"1"}"#).await;
    let total = reply.await.unwrap().unwrap();
    assert_eq!((total.sum, total.count), (2, 1));
    assert_eq!(caller.rest().await.1, Closed::Fin);
}
