//! NaN and ±Infinity through the JSON codec, in every place a float can sit in a message.

use std::collections::HashMap;
use std::str::FromStr;

use pbjson::private::NumberDeserialize;
use pbjson_types::{Struct, Value};
use serde::{Deserialize, Deserializer, Serialize};

use super::super::decode;

fn encode<M: crate::codec::Message>(message: &M) -> Result<bytes::Bytes, crate::Error> {
    crate::codec::ContentType::JSON.encode(message)
}

/// Floats alone, optional, repeated, as map values and in a nested message, written and read the
/// way pbjson's generated code does: numbers or strings in, skipped when zero or empty.
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Readings {
    #[prost(double, tag = "1")]
    #[serde(skip_serializing_if = "is_zero", deserialize_with = "number")]
    f_double: f64,
    #[prost(float, tag = "2")]
    #[serde(skip_serializing_if = "is_zero_f32", deserialize_with = "number")]
    f_float: f32,
    #[prost(double, optional, tag = "3")]
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "maybe")]
    maybe: Option<f64>,
    #[prost(double, repeated, tag = "4")]
    #[serde(skip_serializing_if = "Vec::is_empty", deserialize_with = "numbers")]
    many: Vec<f64>,
    #[prost(map = "string, float", tag = "5")]
    #[serde(skip_serializing_if = "HashMap::is_empty", deserialize_with = "named")]
    named: HashMap<String, f32>,
    #[prost(message, optional, boxed, tag = "6")]
    #[serde(skip_serializing_if = "Option::is_none")]
    inner: Option<Box<Readings>>,
}

// pbjson writes a float field unless it is 0 (so NaN is written).
fn is_zero(v: &f64) -> bool {
    *v == 0.
}

fn is_zero_f32(v: &f32) -> bool {
    *v == 0.
}

fn number<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr + Deserialize<'de>,
    T::Err: std::error::Error,
{
    Ok(NumberDeserialize::<T>::deserialize(d)?.0)
}

fn maybe<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(Option::<NumberDeserialize<f64>>::deserialize(d)?.map(|n| n.0))
}

fn numbers<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    let numbers = Vec::<NumberDeserialize<f64>>::deserialize(d)?;
    Ok(numbers.into_iter().map(|n| n.0).collect())
}

fn named<'de, D: Deserializer<'de>>(d: D) -> Result<HashMap<String, f32>, D::Error> {
    let named = HashMap::<String, NumberDeserialize<f32>>::deserialize(d)?;
    Ok(named.into_iter().map(|(k, n)| (k, n.0)).collect())
}

fn text(message: &Readings) -> String {
    String::from_utf8(encode(message).unwrap().to_vec()).unwrap()
}

/// The same float, NaN included: compared by bits, as NaN != NaN.
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
fn a_nan_double_is_written_as_protojson_writes_it() {
    let message = Readings {
        f_double: f64::NAN,
        ..Readings::default()
    };
    // Go: protojson.Marshal(&pb.Readings{FDouble: math.NaN()}) is {"fDouble":"NaN"}.
    assert_eq!(text(&message), "{\"fDouble\":\"NaN\"}\n");
}

#[test]
fn non_finite_floats_round_trip_everywhere() {
    for (value, spelled) in [
        (f64::NAN, "\"NaN\""),
        (f64::INFINITY, "\"Infinity\""),
        (f64::NEG_INFINITY, "\"-Infinity\""),
    ] {
        let message = Readings {
            f_double: value,
            f_float: value as f32,
            maybe: Some(value),
            many: vec![1.5, value, -2.0],
            named: HashMap::from([("a".to_string(), value as f32)]),
            inner: Some(Box::new(Readings {
                f_double: value,
                many: vec![value],
                ..Readings::default()
            })),
        };
        let json = text(&message);
        let v = spelled;
        assert_eq!(
            json,
            format!(
                "{{\"fDouble\":{v},\"fFloat\":{v},\"maybe\":{v},\"many\":[1.5,{v},-2.0],\
                 \"named\":{{\"a\":{v}}},\"inner\":{{\"fDouble\":{v},\"many\":[{v}]}}}}\n"
            )
        );
        let back: Readings = decode(json.as_bytes()).unwrap();
        let inner = back.inner.as_deref().unwrap();
        for (got, place) in [
            (back.f_double, "singular double"),
            (back.f_float.into(), "singular float"),
            (back.maybe.unwrap(), "optional"),
            (back.many[1], "repeated"),
            (back.named["a"].into(), "map value"),
            (inner.f_double, "nested"),
            (inner.many[0], "nested repeated"),
        ] {
            assert!(same(got, value), "{place}: {got} is not {value}");
        }
        assert_eq!(back.many[0], 1.5);
        assert_eq!(text(&back), json, "the second encoding is the first");
    }
}

#[test]
fn everything_else_is_written_as_serde_json_writes_it() {
    let message = Readings {
        f_double: 0.1,
        f_float: 0.1,
        maybe: Some(-0.0),
        many: vec![1e300, f64::MIN_POSITIVE, -1.0],
        named: HashMap::from([("b".to_string(), f32::MAX)]),
        inner: Some(Box::new(Readings {
            f_double: 5e-324,
            ..Readings::default()
        })),
    };
    let mut expected = serde_json::to_vec(&message).unwrap();
    expected.push(b'\n');
    assert_eq!(encode(&message).unwrap(), expected);
    assert_eq!(text(&Readings::default()), "{}\n");
}

#[test]
fn a_non_finite_google_protobuf_value_is_refused_as_protojson_refuses_it() {
    // A NaN in a Value would read back as the string "NaN": protojson.Marshal fails, and so do we.
    for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let error = encode(&Value::from(value)).unwrap_err();
        assert_eq!(error.code, 500, "{error:?}");
        assert!(
            error.detail.contains("google.protobuf.Value.number_value"),
            "{}",
            error.detail
        );
        let object = Struct {
            fields: [("x".to_string(), Value::from(value))].into(),
        };
        assert_eq!(encode(&object).unwrap_err().code, 500);
    }
    let object = Struct {
        fields: [("x".to_string(), Value::from(1.5))].into(),
    };
    assert_eq!(encode(&object).unwrap(), "{\"x\":1.5}\n");
}

#[test]
fn doubles_are_read_exactly_so_they_survive_a_round_trip() {
    // Found by fuzzing: without serde_json's exact parser this came back one unit in the last
    // place off.
    for text in [
        "2.2222222222222227e85",
        "0.1",
        "1.7976931348623157e308",
        "5e-324",
    ] {
        let want = f64::from_str(text).unwrap();
        let json = format!("{{\"fDouble\":{text}}}");
        let read: Readings = decode(json.as_bytes()).unwrap();
        assert_eq!(read.f_double.to_bits(), want.to_bits(), "{text}");
        let again: Readings = decode(&encode(&read).unwrap()).unwrap();
        assert_eq!(
            again.f_double.to_bits(),
            want.to_bits(),
            "{text} after a round trip"
        );
    }
}
