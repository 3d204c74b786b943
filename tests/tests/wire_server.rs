//! Replays what go-micro v6.10.0's client sent (`go-micro-wire/*/c2s.bin`) to a micro server, whole
//! and one byte per write, and checks that micro answers with the meaning go-micro's own server
//! answered with (`s2c.bin`): statuses, errors, decoded bodies, stream frames and `EOS`.
//!
//! The micro server serves what the go-micro test server served (the corpus README), under the
//! same name: `Greeter.Hello` and the `Streamer` endpoints, with the same special names.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use micro_runtime::Error;
use micro_runtime::server::{RunningServer, Server};
use micro_runtime::stream::{Receiver, Sender};
use micro_runtime::transport::{FrameReader, Limits, StartLine};
use micro_runtime::{Context, registry::memory::MemoryRegistry};
use tests::proto::greeter::{GreeterHandler, GreeterServer, HelloRequest, HelloResponse};
use tests::proto::streaming::{
    CountdownRequest, EchoMessage, Number, PingRequest, PingResponse, StreamerHandler,
    StreamerServer, Tick, Total,
};
use tests::wire;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// go-micro's test server's Greeter.
#[derive(Clone)]
struct GoGreeter;

impl GreeterHandler for GoGreeter {
    async fn hello(&self, _ctx: Context, req: HelloRequest) -> Result<HelloResponse, Error> {
        match req.name.as_str() {
            "" => Err(Error::bad_request("name must not be empty").with_id("greeter")),
            "plain-error" => {
                Err(Error::internal_server_error("a plain Go error").with_id("greeter"))
            }
            "sleep" => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                Ok(HelloResponse {
                    greeting: "Hello sleep".into(),
                })
            }
            name => Ok(HelloResponse {
                greeting: format!("Hello {name}"),
            }),
        }
    }
}

/// go-micro's test server's Streamer: Echo upper-cases.
#[derive(Clone)]
struct GoStreamer;

impl StreamerHandler for GoStreamer {
    async fn ping(&self, _ctx: Context, req: PingRequest) -> Result<PingResponse, Error> {
        Ok(PingResponse {
            payload: req.payload,
        })
    }

    async fn countdown(
        &self,
        _ctx: Context,
        req: CountdownRequest,
        stream: Sender<Tick>,
    ) -> Result<(), Error> {
        for value in (1..=req.from).rev() {
            stream.send(Tick { value }).await?;
        }
        Ok(())
    }

    async fn sum(&self, _ctx: Context, mut stream: Receiver<Number>) -> Result<Total, Error> {
        let mut total = Total::default();
        while let Some(number) = stream.recv().await? {
            total.sum += number.value;
            total.count += 1;
        }
        Ok(total)
    }

    async fn echo(
        &self,
        _ctx: Context,
        mut stream: Receiver<EchoMessage>,
        sender: Sender<EchoMessage>,
    ) -> Result<(), Error> {
        while let Some(mut message) = stream.recv().await? {
            message.text = message.text.to_uppercase();
            sender.send(message).await?;
        }
        Ok(())
    }
}

async fn start() -> RunningServer {
    Server::new("greeter")
        .address("127.0.0.1:0")
        .registry(std::sync::Arc::new(MemoryRegistry::new()))
        .handle(GreeterServer::new(GoGreeter))
        .handle(StreamerServer::new(GoStreamer))
        .start()
        .await
        .expect("server starts")
}

/// One response frame, as much of it as carries meaning.
#[derive(Debug, PartialEq)]
struct Reply {
    status: u16,
    error: Option<String>,
    content_type: Option<String>,
    body: Bytes,
}

/// Every response frame in `wire`, read by micro's own frame reader.
async fn replies(wire: &[u8]) -> Vec<Reply> {
    let mut reader = FrameReader::new(wire, Limits::default());
    let mut out = Vec::new();
    while let Ok(Some(frame)) = reader.read_response().await {
        let StartLine::Response { status, .. } = frame.start else {
            panic!("a request in a reply stream")
        };
        out.push(Reply {
            status,
            error: frame.headers.get_micro("Micro-Error").map(str::to_string),
            content_type: frame.headers.get("Content-Type").map(str::to_string),
            body: frame.body,
        });
    }
    out
}

/// Sends `c2s` as a go-micro client did (whole, or one byte per write) and collects what the
/// server answers. A client that was done (its bytes end in a whole call or an `EOS`) half-closes,
/// as go-micro's did, and the answer is read to the server's close; one that was cut off mid-stream
/// keeps its side open, and the answer is read until `frames` have come.
async fn replay(server: SocketAddr, c2s: &[u8], bytewise: bool, frames: Option<usize>) -> Vec<u8> {
    let mut socket = TcpStream::connect(server).await.unwrap();
    socket.set_nodelay(true).unwrap();
    if bytewise {
        for byte in c2s {
            socket.write_all(std::slice::from_ref(byte)).await.unwrap();
        }
    } else {
        socket.write_all(c2s).await.unwrap();
    }
    let mut out = Vec::new();
    let read = async {
        match frames {
            None => {
                socket.shutdown().await.unwrap();
                socket.read_to_end(&mut out).await.unwrap();
            }
            Some(frames) => {
                while replies(&out).await.len() < frames {
                    let mut chunk = [0u8; 4096];
                    let n = socket.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "the server closed early");
                    out.extend_from_slice(&chunk[..n]);
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the server answers");
    out
}

/// The detail of an error header, JSON (go-micro's errors) or plain text (its router's).
fn detail(error: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(error) {
        Ok(json) => json["detail"].as_str().unwrap_or_default().to_string(),
        Err(_) => error.to_string(),
    }
}

fn same_body(scenario: &str, go: &Reply, micro: &Reply) {
    if go.content_type.as_deref() == Some("application/json") && !go.body.is_empty() {
        let parse = |b: &Bytes| serde_json::from_slice::<serde_json::Value>(b).unwrap();
        assert_eq!(parse(&micro.body), parse(&go.body), "{scenario}: JSON body");
    } else {
        assert_eq!(micro.body, go.body, "{scenario}: body");
    }
}

/// Whether micro's reply means what go-micro's did, frame by frame.
fn same_meaning(scenario: &str, go: &[Reply], micro: &[Reply]) {
    assert_eq!(
        micro.len(),
        go.len(),
        "{scenario}: frames\n go: {go:?}\n micro: {micro:?}"
    );
    for (go, micro) in go.iter().zip(micro) {
        assert_eq!(micro.status, go.status, "{scenario}: status");
        match (&go.error, &micro.error) {
            (None, None) => same_body(scenario, go, micro),
            (Some(go), Some(micro)) if go == "EOS" => assert_eq!(micro, "EOS", "{scenario}"),
            (Some(go_error), Some(micro_error)) => {
                // micro's router errors are JSON with a code where go-micro's are plain text;
                // the words go-micro says must be in micro's detail.
                let micro_detail = detail(micro_error).replace('"', "");
                assert!(
                    micro_detail.contains(&detail(go_error)),
                    "{scenario}: go-micro said {go_error:?}, micro {micro_error:?}"
                );
                if let Ok(go_json) = serde_json::from_str::<serde_json::Value>(go_error) {
                    let micro_json: serde_json::Value = serde_json::from_str(micro_error).unwrap();
                    assert_eq!(micro_json["code"], go_json["code"], "{scenario}: code");
                    assert_eq!(micro_json["id"], go_json["id"], "{scenario}: id");
                }
                assert!(micro.body.is_empty(), "{scenario}: an error has no body");
            }
            (go, micro) => panic!("{scenario}: go-micro's error {go:?}, micro's {micro:?}"),
        }
    }
}

/// A reply frame carrying `body`.
fn message(content_type: &str, body: &[u8]) -> Reply {
    Reply {
        status: 200,
        error: None,
        content_type: Some(content_type.into()),
        body: Bytes::copy_from_slice(body),
    }
}

fn eos() -> Reply {
    Reply {
        status: 200,
        error: Some("EOS".into()),
        content_type: None,
        body: Bytes::new(),
    }
}

/// The bytes go-micro's client sent in `scenario`. Where micro broke the stream before the client
/// was done (the `go-client-to-micro/` captures of micro at `a98e2d8`), the rest is what the same
/// client sent to go-micro's server in the matching Go↔Go capture, so the call runs to its end.
fn client_bytes(scenario: &str) -> Vec<u8> {
    let mut c2s = wire::read(&format!("{scenario}/c2s.bin"));
    let reference = match scenario {
        "go-client-to-micro/stream-server-protobuf" => Some("stream-server-protobuf"),
        "go-client-to-micro/stream-bidi-protobuf" => Some("stream-bidi-protobuf"),
        _ => None,
    };
    if let Some(reference) = reference {
        let sent = frame_starts(&c2s).len();
        let full = wire::read(&format!("{reference}/c2s.bin"));
        let rest = frame_starts(&full)[sent];
        c2s.extend_from_slice(&full[rest..]);
    }
    c2s
}

/// Where each request frame of a go-micro client's bytes starts.
fn frame_starts(c2s: &[u8]) -> Vec<usize> {
    let start = b"POST / HTTP/1.1\r\n";
    (0..c2s.len())
        .filter(|&i| c2s[i..].starts_with(start))
        .collect()
}

/// What micro must answer to `scenario`: go-micro's own answer, except where go-micro's bytes do
/// not show its server's intent (the README of the corpus says why for each).
async fn expected(scenario: &str) -> Vec<Reply> {
    const JSON: &str = "application/json";
    const PROTO: &str = "application/protobuf";
    match scenario {
        // go-micro's server overwrites its write buffer before the queued frame is written, so
        // its three ticks all read 1; the handler sent 3, 2, 1.
        "stream-server-json" => vec![
            message(JSON, b"{\"value\":3}"),
            message(JSON, b"{\"value\":2}"),
            message(JSON, b"{\"value\":1}"),
            eos(),
        ],
        "stream-server-protobuf" | "go-client-to-micro/stream-server-protobuf" => vec![
            message(PROTO, &[8, 3]),
            message(PROTO, &[8, 2]),
            message(PROTO, &[8, 1]),
            eos(),
        ],
        // go-micro's client cannot half-close, so its server's answer went to a closed connection
        // and is not in the capture; the handler saw 4 numbers and the end of the stream.
        "stream-client-json" => vec![message(JSON, b"{\"sum\":\"10\",\"count\":4}"), eos()],
        "stream-client-protobuf" => vec![message(PROTO, &[8, 10, 16, 4]), eos()],
        // The client closed straight after its EOS, so go-micro's server wrote no EOS of its own;
        // micro's handler sees the end of the stream and ends it.
        "stream-bidi-json" | "stream-bidi-protobuf" => {
            let mut go = replies(&wire::read(&format!("{scenario}/s2c.bin"))).await;
            go.push(eos());
            go
        }
        "go-client-to-micro/stream-bidi-json" => Box::pin(expected("stream-bidi-json")).await,
        "go-client-to-micro/stream-bidi-protobuf" => {
            Box::pin(expected("stream-bidi-protobuf")).await
        }
        "go-client-to-micro/unary-empty-protobuf" => {
            replies(&wire::read("unary-error-protobuf/s2c.bin")).await
        }
        _ => replies(&wire::read(&format!("{scenario}/s2c.bin"))).await,
    }
}

#[tokio::test]
async fn go_micro_clients_bytes_get_go_micros_answers() {
    let server = start().await;
    let scenarios: Vec<String> = wire::scenarios()
        .into_iter()
        // Not RPC: broker and registry traffic, replayed by their own tests.
        .filter(|s| !s.starts_with("pubsub-") && !s.starts_with("registry-"))
        // Timing is the point of these; see `a_client_that_gives_up_does_not_hurt_the_server`.
        .filter(|s| !s.starts_with("unary-timeout"))
        .collect();
    assert!(scenarios.len() >= 20, "the corpus is there: {scenarios:?}");
    for scenario in &scenarios {
        let c2s = client_bytes(scenario);
        let want = expected(scenario).await;
        for bytewise in [false, true] {
            let got = replies(&replay(server.local_addr(), &c2s, bytewise, None).await).await;
            let how = if bytewise { "byte by byte" } else { "whole" };
            same_meaning(&format!("{scenario} ({how})"), &want, &got);
        }
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_client_that_gives_up_does_not_hurt_the_server() {
    // go-micro's client gave up after 300 ms and closed; its server then wrote nothing, or a late
    // reply on the kept-open connection. micro finishes the call and answers whoever still reads.
    let server = start().await;
    for scenario in ["unary-timeout", "unary-timeout-kept-open"] {
        let c2s = wire::read(&format!("{scenario}/c2s.bin"));
        let got = replies(&replay(server.local_addr(), &c2s, false, None).await).await;
        assert!(!got.is_empty(), "{scenario}");
        for reply in &got {
            assert_eq!((reply.status, &reply.error), (200, &None), "{scenario}");
            let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
            assert_eq!(body["greeting"], "Hello sleep", "{scenario}");
        }
    }
    server.stop().await.unwrap();
}
