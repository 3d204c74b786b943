//! Detection, routing and whole request → reply exchanges of the legacy codecs.

use bytes::Bytes;

use super::*;
use crate::context::Context;
use crate::descriptor::{EndpointDescriptor, EndpointKind, ValueDescriptor};
use crate::server::health;

type Pair = (&'static str, &'static str);

fn headers(pairs: &[(&str, &str)]) -> Headers {
    let mut headers = Headers::new();
    for (name, value) in pairs {
        headers.append(*name, *value);
    }
    headers
}

const NONE: ValueDescriptor = ValueDescriptor {
    name: "Tick",
    type_name: "Tick",
    values: &[],
};

static COUNTDOWN: EndpointDescriptor = EndpointDescriptor {
    name: "Debug.Countdown",
    kind: EndpointKind::ServerStream,
    request: NONE,
    response: NONE,
    metadata: &[],
};

/// `Debug.Health` (unary) and `Debug.Countdown` (a stream).
fn router() -> Router {
    let mut router = Router::new();
    health::register(&mut router);
    router.server_stream(
        &COUNTDOWN,
        |_: Context, _: health::HealthRequest, _: crate::stream::Sender<health::HealthResponse>| async {
            Ok(())
        },
    );
    router
}

#[test]
fn detection_follows_go_micros_setup_protocol() {
    use LegacyCodec::{JsonRpc, ProtoRpc};
    let ep = ("Micro-Endpoint", "Debug.Health");
    let cases: [(&[Pair], Option<LegacyCodec>); 14] = [
        (
            &[("Content-Type", "application/json-rpc"), ep],
            Some(JsonRpc),
        ),
        (
            &[("Content-Type", "application/proto-rpc"), ep],
            Some(ProtoRpc),
        ),
        (&[("Content-Type", "application/json")], Some(JsonRpc)),
        (&[("Content-Type", "application/protobuf")], Some(ProtoRpc)),
        (
            &[("Content-Type", "application/octet-stream")],
            Some(ProtoRpc),
        ),
        (&[], Some(ProtoRpc)),
        (&[("Content-Type", "application/json"), ep], None),
        (
            &[
                ("Content-Type", "application/json"),
                ("X-Micro-Method", "A.B"),
            ],
            None,
        ),
        (
            &[
                ("Content-Type", "application/json"),
                ("Micro-Service", "greeter"),
            ],
            None,
        ),
        (
            &[
                ("Content-Type", "application/json"),
                ep,
                ("Micro-Target", "x"),
            ],
            Some(JsonRpc),
        ),
        (
            &[
                ("Content-Type", "application/json"),
                ("Micro-Protocol", "mucp"),
            ],
            None,
        ),
        (
            &[
                ("Content-Type", "application/json"),
                ("Micro-Topic", "events"),
            ],
            None,
        ),
        (&[("Content-Type", "application/grpc")], None),
        (&[("Content-Type", "application/x-protobuf")], None),
    ];
    for (pairs, expected) in cases {
        assert_eq!(LegacyCodec::detect(&headers(pairs)), expected, "{pairs:?}");
    }
}

#[test]
fn the_endpoint_header_wins_over_the_envelope_method() {
    let body = Bytes::from_static(br#"{"method":"Debug.Nope","id":"3","params":[{}]}"#);
    let with = headers(&[("Micro-Method", "Debug.Health")]);
    let request = LegacyCodec::JsonRpc.decode(&with, &body, 1024).unwrap();
    assert_eq!(
        (request.endpoint.as_str(), request.id.as_str()),
        ("Debug.Health", "3")
    );
    let request = LegacyCodec::JsonRpc
        .decode(&Headers::new(), &body, 1024)
        .unwrap();
    assert_eq!(request.endpoint, "Debug.Nope");
}

#[test]
fn routing_errors_are_go_micros_texts() {
    let router = router();
    let route = |endpoint: &str| {
        let body = format!(r#"{{"method":"{endpoint}","params":[{{}}]}}"#);
        let request = LegacyCodec::JsonRpc
            .decode(&Headers::new(), &Bytes::from(body), 1024)
            .unwrap();
        request.route(&router).err().map(|e| e.to_string())
    };
    assert_eq!(route("Debug.Health"), None);
    let cases = [
        ("", "rpc: service/endpoint request ill-formed: "),
        ("Debug", "rpc: service/endpoint request ill-formed: Debug"),
        ("a.b.c", "rpc: service/endpoint request ill-formed: a.b.c"),
        ("Debug.Nope", "rpc: can't find method Nope"),
        ("Nope.Health", "rpc: can't find service Nope"),
        (".Health", "rpc: can't find service "),
    ];
    for (endpoint, expected) in cases {
        assert_eq!(route(endpoint).as_deref(), Some(expected), "{endpoint:?}");
    }
    let stream = route("Debug.Countdown").unwrap();
    assert!(stream.contains("unary calls only"), "{stream}");
}

/// Serves one legacy request as the server does: decode, route, call, encode.
async fn exchange(pairs: &[(&str, &str)], body: &'static [u8]) -> Bytes {
    let request_headers = headers(pairs);
    let codec = LegacyCodec::detect(&request_headers).expect("a legacy request");
    let served = async {
        let request = codec.decode(&request_headers, &Bytes::from_static(body), 1 << 20)?;
        let route = request.route(&router())?;
        let id = request.id.clone();
        let message = request.into_message()?;
        Ok::<_, LegacyError>((route, id, message))
    };
    match served.await {
        Ok((route, id, message)) => {
            match route
                .call(Context::default(), codec.message_type(), message)
                .await
            {
                Ok(reply) => codec.encode_reply(&id, &reply),
                Err(err) => codec.encode_error(&err.to_header_value()),
            }
        }
        Err(err) => codec.encode_error(&err.to_string()),
    }
}

#[tokio::test]
async fn curl_without_an_endpoint_gets_go_micros_ill_formed_reply() {
    let reply = exchange(
        &[("Content-Type", "application/json")],
        br#"{"name":"alice"}"#,
    )
    .await;
    assert_eq!(
        &reply[..],
        b"{\"id\":\"\",\"result\":null,\"error\":\"rpc: service/endpoint request ill-formed: \"}\n"
    );
}

#[tokio::test]
async fn a_json_rpc_call_round_trips() {
    let reply = exchange(
        &[("Content-Type", "application/json-rpc")],
        b"{\"params\":[{}],\"id\":\"41\",\"method\":\"Debug.Health\"}\n",
    )
    .await;
    assert_eq!(
        &reply[..],
        b"{\"id\":\"41\",\"result\":{\"status\":\"ok\"},\"error\":null}\n"
    );
}

#[tokio::test]
async fn a_bad_json_message_is_the_endpoints_decode_error() {
    let reply = exchange(
        &[("Content-Type", "application/json-rpc")],
        br#"{"params":["not a message"],"id":"1","method":"Debug.Health"}"#,
    )
    .await;
    let value: serde_json::Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(value["id"], "");
    let error = value["error"].as_str().unwrap();
    assert!(
        error.contains(r#""code":400"#) && error.contains("cannot decode JSON body"),
        "{error}"
    );
}

#[tokio::test]
async fn a_proto_rpc_call_round_trips() {
    // Envelope {service_method: "Debug.Health", seq: 5} and the empty HealthRequest.
    const BODY: &[u8] =
        b"\x00\x00\x00\x17\x0a\x0cDebug.Health\x11\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
    let reply = exchange(&[], BODY).await;
    // Envelope {seq: 5} and HealthResponse {status: "ok"}.
    assert_eq!(
        &reply[..],
        b"\x00\x00\x00\x09\x11\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x04\x0a\x02ok"
    );
}

#[tokio::test]
async fn a_proto_rpc_error_has_seq_zero_and_the_text() {
    const BODY: &[u8] = b"\x00\x00\x00\x0c\x0a\x0aDebug.Nope\x00\x00\x00\x00";
    let reply = exchange(&[("Content-Type", "application/octet-stream")], BODY).await;
    let mut expected = b"\x00\x00\x00\x1d\x1a\x1b".to_vec();
    expected.extend_from_slice(b"rpc: can't find method Nope\x00\x00\x00\x00");
    assert_eq!(&reply[..], expected);
}

#[test]
fn reply_headers_echo_the_content_type() {
    let request = headers(&[("content-type", "application/json")]);
    let reply = LegacyCodec::reply_headers(&request, "7", None);
    assert_eq!(reply.get("Content-Type"), Some("application/json"));
    assert_eq!(reply.get("Micro-Id"), Some("7"));
    assert!(reply.get("Micro-Error").is_none());
    let reply = LegacyCodec::reply_headers(&Headers::new(), "", Some("boom"));
    assert_eq!(reply.get("Content-Type"), Some("application/protobuf"));
    assert_eq!(
        (reply.get("Micro-Id"), reply.get("Micro-Error")),
        (None, Some("boom"))
    );
}
