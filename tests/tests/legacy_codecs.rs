//! go-micro's legacy codecs end to end: a real server answers json-rpc and proto-rpc requests
//! sent over raw TCP, replies and errors in the envelope go-micro writes.

use bytes::{BufMut, Bytes, BytesMut};
use micro_runtime::server::RunningServer;
use prost::Message;
use tests::handlers::Greeter;
use tests::proto::greeter::{GreeterServer, HelloRequest, HelloResponse};
use tests::support;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// go-micro's `protorpc.Request` envelope.
#[derive(Clone, PartialEq, prost::Message)]
struct RequestEnvelope {
    #[prost(string, tag = "1")]
    service_method: String,
    #[prost(fixed64, tag = "2")]
    seq: u64,
}

/// go-micro's `protorpc.Response` envelope.
#[derive(Clone, PartialEq, prost::Message)]
struct ResponseEnvelope {
    #[prost(string, tag = "1")]
    service_method: String,
    #[prost(fixed64, tag = "2")]
    seq: u64,
    #[prost(string, tag = "3")]
    error: String,
}

/// One HTTP reply: its headers (lower-cased names) and body.
struct Reply {
    head: String,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

async fn start() -> RunningServer {
    let registry = support::registry();
    support::start("greeter", &registry, GreeterServer::new(Greeter::default())).await
}

/// Sends one `POST /` with `headers` and `body` on `socket` and reads one reply.
async fn call(socket: &mut TcpStream, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut request = format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    socket.write_all(&bytes).await.unwrap();
    let mut buf = Vec::new();
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8(buf[..end].to_vec()).unwrap();
            let reply = Reply {
                head,
                body: Vec::new(),
            };
            let length: usize = reply.header("Content-Length").unwrap().parse().unwrap();
            while buf.len() < end + 4 + length {
                let mut chunk = [0; 4096];
                let n = socket.read(&mut chunk).await.unwrap();
                assert!(n > 0, "the server closed mid-reply");
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = buf[end + 4..end + 4 + length].to_vec();
            return Reply { body, ..reply };
        }
        let mut chunk = [0; 4096];
        let n = socket.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the server closed without a reply");
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn call_once(server: &RunningServer, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut socket = TcpStream::connect(server.local_addr()).await.unwrap();
    call(&mut socket, headers, body).await
}

fn netstrings(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for part in parts {
        out.put_u32(part.len() as u32);
        out.put_slice(part);
    }
    out.to_vec()
}

/// Splits a proto-rpc reply into its envelope and message.
fn proto_reply(body: &[u8]) -> (ResponseEnvelope, Bytes) {
    let mut body = Bytes::copy_from_slice(body);
    let mut take = || {
        let length = u32::from_be_bytes(body[..4].try_into().unwrap()) as usize;
        let part = body.slice(4..4 + length);
        body = body.slice(4 + length..);
        part
    };
    let envelope = ResponseEnvelope::decode(take()).unwrap();
    let message = take();
    assert!(body.is_empty(), "nothing follows the two netstrings");
    (envelope, message)
}

fn proto_request(endpoint: &str, seq: u64, name: &str) -> Vec<u8> {
    let envelope = RequestEnvelope {
        service_method: endpoint.into(),
        seq,
    };
    let message = HelloRequest { name: name.into() };
    netstrings(&[&envelope.encode_to_vec(), &message.encode_to_vec()])
}

#[tokio::test]
async fn json_rpc_calls_are_answered_in_the_json_rpc_envelope() {
    let server = start().await;
    let mut socket = TcpStream::connect(server.local_addr()).await.unwrap();
    // Twice on one connection, with the explicit type and with go-micro's fallback for
    // application/json without routing headers.
    for content_type in ["application/json-rpc", "application/json"] {
        let reply = call(
            &mut socket,
            &[("Content-Type", content_type)],
            b"{\"params\":[{\"name\":\"Ann\"}],\"id\":\"7\",\"method\":\"Greeter.Hello\"}\n",
        )
        .await;
        assert!(reply.head.starts_with("HTTP/1.1 200"), "{}", reply.head);
        assert_eq!(
            String::from_utf8_lossy(&reply.body),
            "{\"id\":\"7\",\"result\":{\"greeting\":\"Hello Ann\"},\"error\":null}\n"
        );
        assert_eq!(reply.header("Content-Type"), Some(content_type));
        assert_eq!(reply.header("Micro-Id"), Some("7"));
        assert_eq!(reply.header("Micro-Error"), None);
    }
    // The connection still speaks the ordinary protocol afterwards.
    let reply = call(
        &mut socket,
        &[
            ("Content-Type", "application/json"),
            ("Micro-Endpoint", "Greeter.Hello"),
        ],
        br#"{"name":"Bob"}"#,
    )
    .await;
    assert_eq!(reply.body, b"{\"greeting\":\"Hello Bob\"}\n");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn curl_without_an_endpoint_gets_go_micros_ill_formed_reply() {
    let server = start().await;
    let reply = call_once(
        &server,
        &[("Content-Type", "application/json")],
        br#"{"name":"alice"}"#,
    )
    .await;
    assert!(reply.head.starts_with("HTTP/1.1 200"), "{}", reply.head);
    assert_eq!(
        String::from_utf8_lossy(&reply.body),
        "{\"id\":\"\",\"result\":null,\"error\":\"rpc: service/endpoint request ill-formed: \"}\n"
    );
    assert_eq!(
        reply.header("Micro-Error"),
        Some("rpc: service/endpoint request ill-formed:")
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn json_rpc_errors_carry_go_micros_texts() {
    let server = start().await;
    let json = |method: &str, name: &str| {
        format!(r#"{{"method":"{method}","id":"1","params":[{{"name":"{name}"}}]}}"#)
    };
    let cases = [
        (json("Greeter.Nope", "x"), "rpc: can't find method Nope"),
        (json("Nope.Hello", "x"), "rpc: can't find service Nope"),
        (
            json("Greeter", "x"),
            "rpc: service/endpoint request ill-formed: Greeter",
        ),
        (
            json("Greeter.Hello", ""),
            r#"{"id":"greeter","code":400,"detail":"name must not be empty","status":"Bad Request"}"#,
        ),
        (
            r#"{"method":"Greeter.Hello","params":{"name":"x"}}"#.to_string(),
            "rpc: router cannot decode request: json-rpc: params must be an array",
        ),
        (
            "not json".to_string(),
            "rpc: router cannot decode request: json-rpc: not a json-rpc request object",
        ),
    ];
    for (body, expected) in cases {
        let headers = [("Content-Type", "application/json-rpc")];
        let reply = call_once(&server, &headers, body.as_bytes()).await;
        let value: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(value["id"], "", "{body}");
        assert!(value["result"].is_null(), "{body}");
        let error = value["error"].as_str().unwrap();
        assert!(error.starts_with(expected), "{expected:?} in {error:?}");
        assert!(reply.header("Micro-Error").is_some(), "{body}");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn proto_rpc_calls_are_answered_in_the_proto_rpc_envelope() {
    let server = start().await;
    let mut socket = TcpStream::connect(server.local_addr()).await.unwrap();
    // No Content-Type and no routing headers: go-micro's fallback to proto-rpc.
    for (headers, seq) in [
        (&[][..], 5),
        (&[("Content-Type", "application/proto-rpc")][..], 6),
        (&[("Content-Type", "application/octet-stream")][..], 7),
    ] {
        let body = proto_request("Greeter.Hello", seq, "Ann");
        let reply = call(&mut socket, headers, &body).await;
        let (envelope, message) = proto_reply(&reply.body);
        assert_eq!(envelope.seq, seq);
        assert_eq!(envelope.error, "");
        assert_eq!(
            envelope.service_method, "",
            "go-micro leaves it out of replies"
        );
        assert_eq!(
            HelloResponse::decode(message).unwrap().greeting,
            "Hello Ann"
        );
        assert_eq!(reply.header("Micro-Id"), Some(seq.to_string().as_str()));
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn proto_rpc_errors_have_seq_zero_and_the_text() {
    let server = start().await;
    let cases = [
        (
            proto_request("Greeter.Nope", 3, "x"),
            "rpc: can't find method Nope",
        ),
        (
            proto_request("Greeter", 3, "x"),
            "rpc: service/endpoint request ill-formed: Greeter",
        ),
        (
            proto_request("Greeter.Hello", 3, ""),
            r#"{"id":"greeter","code":400"#,
        ),
        (
            vec![0, 0, 0],
            "proto-rpc: the envelope netstring is cut short",
        ),
        (vec![0xff, 0xff, 0xff, 0xff, 0], "over the message limit"),
        (
            proto_request("Greeter.Hello", 3, "x")[..20].to_vec(),
            "proto-rpc: the envelope netstring is cut short",
        ),
    ];
    for (body, expected) in cases {
        let reply = call_once(&server, &[("Content-Type", "application/proto-rpc")], &body).await;
        let (envelope, message) = proto_reply(&reply.body);
        assert_eq!(envelope.seq, 0);
        assert!(
            envelope.error.contains(expected),
            "{expected:?} in {:?}",
            envelope.error
        );
        assert!(message.is_empty());
        assert!(reply.header("Micro-Error").is_some());
    }
    server.stop().await.unwrap();
}
