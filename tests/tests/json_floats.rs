//! NaN and ±Infinity in JSON, through code micro-build generates: written as `"NaN"`,
//! `"Infinity"` and `"-Infinity"`, as go-micro's protojson writes them, and read back, over a real
//! socket too; and `null` for a field read as not set, as protojson reads it.

use std::collections::HashMap;

use bytes::Bytes;
use micro_runtime::codec::ContentType;
use micro_runtime::server::RunningServer;
use micro_runtime::{Context, Error};
use tests::proto::meter::reading::Choice;
use tests::proto::meter::{MeterHandler, MeterServer, Reading};
use tests::support;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Answers with the reading it got.
#[derive(Clone)]
struct Echo;

impl MeterHandler for Echo {
    async fn echo(&self, _ctx: Context, req: Reading) -> Result<Reading, Error> {
        Ok(req)
    }
}

/// A reading with `value` in every place a float can be.
fn everywhere(value: f64) -> Reading {
    Reading {
        value,
        ratio: value as f32,
        maybe: Some(value),
        samples: vec![1.5, value],
        named: HashMap::from([("a".to_string(), value as f32)]),
        inner: Some(Box::new(Reading {
            value,
            ..Reading::default()
        })),
        choice: Some(Choice::ChoiceDouble(value)),
        ..Reading::default()
    }
}

/// The JSON of [`everywhere`], with `v` the value as proto3 JSON spells it.
fn everywhere_json(v: &str) -> String {
    format!(
        r#"{{"value":{v},"ratio":{v},"maybe":{v},"samples":[1.5,{v}],"named":{{"a":{v}}},"inner":{{"value":{v}}},"choiceDouble":{v}}}"#
    )
}

const NON_FINITE: [(f64, &str); 3] = [
    (f64::NAN, r#""NaN""#),
    (f64::INFINITY, r#""Infinity""#),
    (f64::NEG_INFINITY, r#""-Infinity""#),
];

/// Whether `got` is `want`, NaN being NaN.
fn same(got: f64, want: f64) -> bool {
    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan())
}

#[test]
fn generated_messages_write_and_read_non_finite_floats_everywhere() {
    for (value, spelled) in NON_FINITE {
        let json = ContentType::JSON.encode(&everywhere(value)).unwrap();
        assert_eq!(json, format!("{}\n", everywhere_json(spelled)));
        let back: Reading = ContentType::JSON.decode(json.clone()).unwrap();
        let Some(Choice::ChoiceDouble(choice)) = back.choice else {
            panic!("no oneof: {back:?}");
        };
        let inner = back.inner.as_deref().unwrap();
        for got in [
            back.value,
            back.ratio.into(),
            back.maybe.unwrap(),
            back.samples[1],
            back.named["a"].into(),
            inner.value,
            choice,
        ] {
            assert!(same(got, value), "{got} is not {value} in {back:?}");
        }
        assert_eq!(ContentType::JSON.encode(&back).unwrap(), json);
    }
}

#[test]
fn a_nan_double_alone_is_byte_for_byte_what_protojson_writes() {
    let reading = Reading {
        value: f64::NAN,
        ..Reading::default()
    };
    // protojson.Marshal(&meter.Reading{Value: math.NaN()}) in Go.
    assert_eq!(
        ContentType::JSON.encode(&reading).unwrap(),
        "{\"value\":\"NaN\"}\n"
    );
}

#[test]
fn null_for_each_field_reads_as_not_set() {
    for field in [
        "value",
        "ratio",
        "maybe",
        "samples",
        "named",
        "inner",
        "choiceDouble",
        "unit",
        "count",
        "label",
        "ok",
        "raw",
    ] {
        let json = format!(r#"{{"{field}":null}}"#);
        let reading: Reading = ContentType::JSON
            .decode(Bytes::from(json.clone()))
            .unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(reading, Reading::default(), "{json}");
    }
    for json in [r#"{"samples":[null]}"#, r#"{"named":{"a":null}}"#] {
        let error = ContentType::JSON
            .decode::<Reading>(Bytes::from(json))
            .expect_err(json);
        assert_eq!(error.code, 400, "{json}");
    }
}

/// POSTs `body` as JSON to `Meter.Echo`, as curl would; returns the status line and the body.
async fn post(server: &RunningServer, body: &str) -> (String, String) {
    let request = format!(
        "POST / HTTP/1.1\r\nHost: meter\r\nContent-Type: application/json\r\nMicro-Endpoint: Meter.Echo\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut socket = TcpStream::connect(server.local_addr()).await.unwrap();
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    socket.read_to_end(&mut reply).await.unwrap();
    let reply = String::from_utf8(reply).unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").expect("a whole HTTP reply");
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, body.to_string())
}

#[tokio::test]
async fn nan_and_infinity_cross_a_socket_as_protojson_spells_them() {
    let registry = support::registry();
    let server = support::start("meter", &registry, MeterServer::new(Echo)).await;
    for (_, spelled) in NON_FINITE {
        let sent = everywhere_json(spelled);
        let (status, body) = post(&server, &sent).await;
        assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
        assert_eq!(body, format!("{sent}\n"));
    }
    let (status, body) = post(&server, r#"{"value":null,"label":null,"samples":null}"#).await;
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("HTTP/1.1 200 OK", "{}\n")
    );
    server.stop().await.unwrap();
}
