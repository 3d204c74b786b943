//! Replays what go-micro v6.10.0's server sent (`go-micro-wire/*/s2c.bin`) to micro's client, whole
//! and one byte per write, and checks that the client reads it as go-micro's client did: replies,
//! errors (JSON and plain text), an empty reply with `Content-Length: 0` last, stream frames and
//! `EOS`, a bidirectional stream the server never ends, a reply that comes after the call gave up.
//! A stand-in server (`tests::go_server`) answers the micro client's requests, which must mean
//! what go-micro's client's did (`c2s.bin`): endpoint, service, codec, stream id, metadata.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use micro_runtime::codec::ContentType;
use micro_runtime::registry::{Node, ServiceRecord};
use micro_runtime::transport::Frame;
use micro_runtime::{CallOptions, Client, Error};
use tests::go_server::{End, GoServer, Step, request_frames, response_frames};
use tests::proto::greeter::{GreeterClient, HelloRequest};
use tests::proto::streaming::{
    CountdownRequest, EchoMessage, PingRequest, PingResponse, StreamerClient, Tick,
};
use tests::{support, wire};
use tokio::sync::Notify;

// The longest any awaited event may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);

/// A client whose registry holds one node of `service`, registered as go-micro registers it,
/// at the stand-in server.
async fn client_for(service: &str, address: SocketAddr) -> Client {
    let registry = support::registry();
    let metadata = [
        ("broker", "http"),
        ("protocol", "mucp"),
        ("registry", "etcd"),
        ("server", "mucp"),
        ("transport", "http"),
    ];
    let node = Node {
        id: format!("{service}-go"),
        address: address.to_string(),
        metadata: metadata
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let service = ServiceRecord {
        name: service.into(),
        version: "latest".into(),
        nodes: vec![node],
        ..ServiceRecord::default()
    };
    registry.register(&service, None).await.unwrap();
    support::client(&registry)
}

fn how(bytewise: bool) -> &'static str {
    if bytewise { "byte by byte" } else { "whole" }
}

fn content_type(frame: &Frame) -> ContentType {
    ContentType::from_header(frame.headers.get("Content-Type")).unwrap()
}

/// Headers that are HTTP's or the framework's, not the caller's metadata.
fn framework_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("micro-")
        || [
            "host",
            "user-agent",
            "content-length",
            "transfer-encoding",
            "accept",
            "content-type",
            "timeout",
        ]
        .contains(&name.as_str())
}

/// Whether micro's request frame means what go-micro's did.
fn same_request(label: &str, go: &Frame, micro: &Frame) {
    let eos = go.headers.get("Micro-Error").is_some();
    for name in [
        "Micro-Service",
        "Micro-Endpoint",
        "Micro-Method",
        "Micro-Error",
    ] {
        assert_eq!(
            micro.headers.get(name),
            go.headers.get(name),
            "{label}: {name}"
        );
    }
    // go-micro's EOS frame repeats the codec; its body is empty, so micro's leaves it out.
    if !eos {
        assert_eq!(
            micro.headers.get("Content-Type"),
            go.headers.get("Content-Type"),
            "{label}: Content-Type"
        );
    }
    for name in ["Micro-Id", "Micro-Stream"] {
        assert_eq!(
            micro.headers.contains(name),
            go.headers.contains(name),
            "{label}: {name}"
        );
    }
    if go.headers.contains("Timeout") {
        assert!(micro.headers.contains("Timeout"), "{label}: Timeout");
    }
    for (name, value) in go.headers.iter().filter(|(n, _)| !framework_header(n)) {
        assert_eq!(
            micro.headers.get(name),
            Some(value),
            "{label}: metadata {name}"
        );
    }
    // go-micro's stream placeholder is the empty message (`{}\n` in JSON); its server ignores it.
    let json = |body: &[u8]| match body {
        b"" => serde_json::json!({}),
        body => serde_json::from_slice::<serde_json::Value>(body).unwrap(),
    };
    if !eos && content_type(go) == ContentType::JSON {
        assert_eq!(json(&micro.body), json(&go.body), "{label}: JSON body");
    } else {
        assert_eq!(micro.body, go.body, "{label}: body");
    }
}

/// The call go-micro's client made in a unary scenario.
#[derive(Clone, Copy, Debug)]
enum Call {
    Hello(&'static str),
    /// `Streamer.Ping` with an empty payload: an empty request and an empty reply.
    Ping,
    /// An endpoint no generated client has, with go-micro's request body.
    Raw(&'static str),
}

struct Case {
    scenario: &'static str,
    call: Call,
    metadata: &'static [(&'static str, &'static str)],
    want: Result<String, Error>,
}

/// A plain-text `Micro-Error`: as go-micro's `errors.Parse`, the text is the detail, code 0.
fn plain(text: &str) -> Error {
    Error {
        detail: text.into(),
        ..Error::default()
    }
}

fn unary_cases() -> Vec<Case> {
    let case = |scenario, call, want| Case {
        scenario,
        call,
        metadata: &[],
        want,
    };
    let empty_name = || Err(Error::bad_request("name must not be empty").with_id("greeter"));
    vec![
        case("unary-json", Call::Hello("John"), Ok("Hello John".into())),
        case(
            "unary-protobuf",
            Call::Hello("John"),
            Ok("Hello John".into()),
        ),
        case(
            "unary-keepalive",
            Call::Hello("Ann"),
            Ok("Hello Ann".into()),
        ),
        Case {
            metadata: &[("X-Foo", "bar"), ("Baz", "qux")],
            ..case("unary-metadata", Call::Hello("Md"), Ok("Hello Md".into()))
        },
        case("unary-empty-protobuf", Call::Ping, Ok(String::new())),
        case("unary-error-json", Call::Hello(""), empty_name()),
        case("unary-error-protobuf", Call::Hello(""), empty_name()),
        case(
            "unary-plain-error",
            Call::Hello("plain-error"),
            Err(plain("a plain Go error")),
        ),
        case(
            "unary-unknown-method",
            Call::Raw("Greeter.Nope"),
            Err(plain("rpc: can't find method Nope")),
        ),
        case(
            "unary-unknown-service",
            Call::Raw("Nope.Hello"),
            Err(plain("rpc: can't find service Nope")),
        ),
        case(
            "unary-ill-formed-endpoint",
            Call::Raw("NoDot"),
            Err(plain("rpc: service/endpoint request ill-formed: NoDot")),
        ),
    ]
}

/// Makes the case's call as go-micro's client made `go`; returns the greeting or payload.
async fn call(client: &Client, case: &Case, go: &Frame) -> Result<String, Error> {
    let service = go.headers.get("Micro-Service").unwrap();
    let mut options = CallOptions::new().content_type(content_type(go));
    for (key, value) in case.metadata {
        options = options.metadata(*key, *value);
    }
    match case.call {
        Call::Hello(name) => GreeterClient::new(service, client.clone())
            .hello_with(HelloRequest { name: name.into() }, options)
            .await
            .map(|reply| reply.greeting),
        Call::Ping => {
            let reply = StreamerClient::new(service, client.clone())
                .ping_with(PingRequest::default(), options)
                .await?;
            assert_eq!(reply, PingResponse::default());
            Ok(reply.payload)
        }
        Call::Raw(endpoint) => client
            .call_raw(
                service,
                endpoint,
                content_type(go),
                go.body.clone(),
                &options,
            )
            .await
            .map(|body| String::from_utf8_lossy(&body).into_owned()),
    }
}

async fn replay_unary(case: &Case, bytewise: bool) {
    let label = format!("{} ({})", case.scenario, how(bytewise));
    let go_requests = request_frames(&wire::read(&format!("{}/c2s.bin", case.scenario))).await;
    let replies = response_frames(&wire::read(&format!("{}/s2c.bin", case.scenario))).await;
    assert_eq!(
        replies.len(),
        go_requests.len(),
        "{label}: one reply a call"
    );
    let steps = replies
        .into_iter()
        .map(|reply| Step::new(1, reply))
        .collect();
    let mut server = GoServer::start(steps, End::Hold, bytewise).await;
    let service = go_requests[0].headers.get("Micro-Service").unwrap();
    let client = client_for(service, server.address).await;
    for go in &go_requests {
        let got = tokio::time::timeout(WAIT, call(&client, case, go))
            .await
            .unwrap_or_else(|_| panic!("{label}: the call ends"));
        assert_eq!(got, case.want, "{label}");
    }
    assert_eq!(
        server.connections(),
        1,
        "{label}: one kept-alive connection"
    );
    // Dropping the client closes its pooled connection, which ends the server's recording.
    drop(client);
    let micro_requests = server.finish().await;
    assert_eq!(micro_requests.len(), go_requests.len(), "{label}: requests");
    for (go, micro) in go_requests.iter().zip(&micro_requests) {
        same_request(&label, go, micro);
    }
    let ids: BTreeSet<_> = micro_requests
        .iter()
        .map(|r| r.headers.get("Micro-Id").unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        micro_requests.len(),
        "{label}: a new Micro-Id a call"
    );
}

#[tokio::test]
async fn go_micro_servers_unary_replies_read_as_go_micros_client_reads_them() {
    let cases = unary_cases();
    for case in &cases {
        for bytewise in [false, true] {
            replay_unary(case, bytewise).await;
        }
    }
    // Every unary scenario is here but the timeouts, whose point is the client giving up.
    for scenario in wire::scenarios() {
        if scenario.starts_with("unary-") && !scenario.starts_with("unary-timeout") {
            assert!(
                cases.iter().any(|c| c.scenario == scenario),
                "{scenario} is replayed"
            );
        }
    }
}

#[tokio::test]
async fn a_go_micro_server_stream_ends_at_its_eos() {
    for scenario in ["stream-server-json", "stream-server-protobuf"] {
        for bytewise in [false, true] {
            let label = format!("{scenario} ({})", how(bytewise));
            let go_requests = request_frames(&wire::read(&format!("{scenario}/c2s.bin"))).await;
            // The server answers once it has the placeholder and the request.
            let reply = wire::read(&format!("{scenario}/s2c.bin"));
            let mut server = GoServer::start(vec![Step::new(2, reply)], End::Hold, bytewise).await;
            let client = client_for("streaming", server.address).await;
            let options = CallOptions::new().content_type(content_type(&go_requests[0]));
            let mut ticks = StreamerClient::new("streaming", client)
                .countdown_with(CountdownRequest { from: 3 }, options)
                .await
                .unwrap();
            // go-micro's server sent three ticks of 1 (it overwrites its write buffer; README).
            for _ in 0..3 {
                let tick = tokio::time::timeout(WAIT, ticks.recv()).await.unwrap();
                assert_eq!(tick, Ok(Some(Tick { value: 1 })), "{label}");
            }
            let end = tokio::time::timeout(WAIT, ticks.recv()).await.unwrap();
            assert_eq!(end, Ok(None), "{label}: EOS ends the stream");
            assert_eq!(ticks.recv().await, Ok(None), "{label}: and it stays ended");
            drop(ticks);

            let micro_requests = server.finish().await;
            // go-micro's client then sent an EOS of its own (its Close); micro's hangs up.
            assert!(
                (2..=3).contains(&micro_requests.len()),
                "{label}: {micro_requests:?}"
            );
            for (go, micro) in go_requests.iter().zip(&micro_requests) {
                same_request(&label, go, micro);
            }
        }
    }
}

/// A bidirectional `Echo` as go-micro's client ran it: `hello`, its echo, `stream`, its echo,
/// then the client ends its side. go-micro's server then sends no `EOS` (the client closed at
/// once; README), so the stand-in server sends nothing more and then `end`s. Returns what the
/// client's last `recv` gave, and whether the server had closed by then.
async fn bidi_after_close(
    scenario: &str,
    bytewise: bool,
    timeout: Option<Duration>,
    end: End,
) -> (Result<Option<EchoMessage>, Error>, bool) {
    let label = format!("{scenario} ({})", how(bytewise));
    let go_requests = request_frames(&wire::read(&format!("{scenario}/c2s.bin"))).await;
    let echoes = response_frames(&wire::read(&format!("{scenario}/s2c.bin"))).await;
    let [first, second] = <[Vec<u8>; 2]>::try_from(echoes).expect("two echoes");
    let steps = vec![
        // The placeholder and `hello`, then `stream`, then the client's EOS.
        Step::new(2, first),
        Step::new(1, second),
        Step::new(1, Vec::new()),
    ];
    let mut server = GoServer::start(steps, end, bytewise).await;
    let client = client_for("streaming", server.address).await;
    let mut options = CallOptions::new().content_type(content_type(&go_requests[0]));
    if let Some(timeout) = timeout {
        options = options.timeout(timeout);
    }
    let mut stream = StreamerClient::new("streaming", client)
        .echo_with(options)
        .await
        .unwrap();
    let message = |text: &str, seq| EchoMessage {
        text: text.into(),
        seq,
    };
    for (sent, echoed) in [
        (message("hello", 0), "HELLO"),
        (message("stream", 1), "STREAM"),
    ] {
        let seq = sent.seq;
        stream.send(sent).await.unwrap();
        let echo = tokio::time::timeout(WAIT, stream.recv()).await.unwrap();
        assert_eq!(echo, Ok(Some(message(echoed, seq))), "{label}");
    }
    stream.close_send().await.unwrap();
    let last = tokio::time::timeout(WAIT, stream.recv())
        .await
        .unwrap_or_else(|_| panic!("{label}: recv hangs after the client's close"));
    let closed = server.closed();
    drop(stream);

    let micro_requests = server.finish().await;
    assert_eq!(micro_requests.len(), go_requests.len(), "{label}: requests");
    for (go, micro) in go_requests.iter().zip(&micro_requests) {
        same_request(&label, go, micro);
    }
    (last, closed)
}

#[tokio::test]
async fn a_go_micro_bidi_stream_without_eos_fails_at_the_calls_deadline() {
    const TIMEOUT: Duration = Duration::from_millis(1500);
    let runs = ["stream-bidi-json", "stream-bidi-protobuf"]
        .into_iter()
        .flat_map(|scenario| [(scenario, false), (scenario, true)])
        .map(|(scenario, bytewise)| async move {
            let label = format!("{scenario} ({})", how(bytewise));
            let (last, _) = bidi_after_close(scenario, bytewise, Some(TIMEOUT), End::Hold).await;
            let err = last.expect_err(&label);
            assert_eq!(
                (err.code, err.id.as_str()),
                (408, "go.micro.client"),
                "{label}: {err}"
            );
        });
    futures_util::future::join_all(runs).await;
}

#[tokio::test]
async fn a_go_micro_bidi_stream_without_eos_fails_when_the_server_hangs_up() {
    for scenario in ["stream-bidi-json", "stream-bidi-protobuf"] {
        for bytewise in [false, true] {
            let label = format!("{scenario} ({})", how(bytewise));
            let (last, closed) = bidi_after_close(scenario, bytewise, None, End::Close).await;
            assert!(
                closed,
                "{label}: the client waited for the server to hang up"
            );
            let err = last.expect_err(&label);
            assert_eq!(err.code, 500, "{label}: {err}");
            assert!(
                err.detail.contains("closed the stream without ending it"),
                "{label}: {err}"
            );
        }
    }
}

#[tokio::test]
async fn a_late_go_micro_reply_is_never_taken_for_the_next_calls() {
    // go-micro's client kept the connection of a call that timed out, read the late reply
    // (+1.0 s) and pooled the connection again; its server never answered call 2. micro's client
    // drops such a connection, so a late reply cannot be mistaken for a later call's.
    let scenario = "unary-timeout-kept-open";
    let go_requests = request_frames(&wire::read(&format!("{scenario}/c2s.bin"))).await;
    let [late] = <[Vec<u8>; 1]>::try_from(
        response_frames(&wire::read(&format!("{scenario}/s2c.bin"))).await,
    )
    .expect("one late reply");
    let gate = Arc::new(Notify::new());
    let steps = vec![
        Step::new(1, Vec::new()),
        Step::new(0, late).after(gate.clone()),
    ];
    let mut server = GoServer::start(steps, End::Hold, false).await;
    let greeter = GreeterClient::new("greeter", client_for("greeter", server.address).await);
    let quick = CallOptions::new()
        .timeout(Duration::from_millis(300))
        .content_type(content_type(&go_requests[0]));
    let sleep = || HelloRequest {
        name: "sleep".into(),
    };

    let first = greeter.hello_with(sleep(), quick.clone()).await;
    assert_eq!(first.map_err(|e| e.code), Err(408), "call 1 times out");
    gate.notify_one();
    let seen = server.finish().await;
    assert_eq!(seen.len(), 1, "call 1 only on the first connection");
    same_request(scenario, &go_requests[0], &seen[0]);

    let second = greeter.hello_with(sleep(), quick).await;
    assert_eq!(
        second.map_err(|e| e.code),
        Err(408),
        "call 2 is not answered by call 1's late reply"
    );
    assert_eq!(server.connections(), 2, "call 2 on a fresh connection");
}
