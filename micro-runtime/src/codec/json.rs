//! The JSON codec: the proto3 JSON mapping through the pbjson serde impls.
//!
//! Decoding goes through [`guard::Guarded`], which refuses `google.protobuf.Duration` and
//! `Timestamp` strings outside the mapping's form and range before pbjson-types parses them: some
//! overflow its Duration parser; it also reads `null` for a message's field as the field not set,
//! as protojson does ([`unset`]). Encoding goes through [`floats::Spelled`], which writes NaN and
//! ±Infinity as the strings proto3 JSON uses where serde_json would write `null`.

mod floats;
mod guard;
mod unset;

use bytes::{BufMut, Bytes, BytesMut};

use super::{Codec, Decode, Encode, Message};
use crate::error::{Error, SERVER_ID};

/// The proto3 JSON codec, `application/json`.
#[derive(Debug)]
pub(super) struct Json;

impl Codec for Json {
    fn content_type(&self) -> &str {
        "application/json"
    }

    fn encode(&self, message: &dyn Encode, out: &mut BytesMut) -> Result<(), Error> {
        message.encode_json(out)
    }

    fn decode(&self, body: Bytes, message: &mut dyn Decode) -> Result<(), Error> {
        message.decode_json(&body)
    }
}

pub(super) fn encode<M: Message>(message: &M, out: &mut BytesMut) -> Result<(), Error> {
    // What serde_json::to_writer does, with the float speller between the message and the JSON.
    let mut writer = out.writer();
    message
        .serialize(floats::Spelled(&mut serde_json::Serializer::new(
            &mut writer,
        )))
        .map_err(|e| {
            Error::internal_server_error(format!("cannot encode JSON: {e}")).with_id(SERVER_ID)
        })?;
    // go-micro's JSON codec writes through json.Encoder, which ends every value with a newline.
    writer.get_mut().put_u8(b'\n');
    Ok(())
}

pub(super) fn decode<M: Message>(body: &[u8]) -> Result<M, Error> {
    // An empty body is the empty message, as for protobuf (curl without -d sends none).
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(M::default());
    }
    // What serde_json::from_slice does, with the guard between the JSON and the message.
    let mut json = serde_json::Deserializer::from_slice(body);
    M::deserialize(guard::Guarded(&mut json))
        .and_then(|message| json.end().map(|()| message))
        .map_err(|e| Error::bad_request(format!("cannot decode JSON body: {e}")).with_id(SERVER_ID))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use pbjson_types::{Duration, Timestamp};
    use serde::{Deserialize, Serialize};

    use super::*;

    /// A message holding the well-known types every way proto3 can: alone, optional, repeated,
    /// in a map and in a nested message.
    #[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    struct Timers {
        #[prost(message, optional, tag = "1")]
        ttl: Option<Duration>,
        #[prost(message, repeated, tag = "2")]
        steps: Vec<Duration>,
        #[prost(map = "string, message", tag = "3")]
        named: HashMap<String, Duration>,
        #[prost(message, optional, tag = "4")]
        at: Option<Timestamp>,
        #[prost(message, optional, boxed, tag = "5")]
        inner: Option<Box<Timers>>,
    }

    fn refused<M: Message + std::fmt::Debug>(json: &str) -> String {
        let error = decode::<M>(json.as_bytes()).expect_err(json);
        assert_eq!(error.code, 400, "{error:?}");
        error.detail
    }

    #[test]
    fn a_duration_that_overflows_pbjson_types_is_a_400() {
        // pbjson-types 0.9 negates i64::MIN here: a panic in debug, i64::MIN seconds in release.
        let detail = refused::<Duration>(r#""--9223372036854775808s""#);
        assert!(
            detail.starts_with("cannot decode JSON body: google.protobuf.Duration"),
            "{detail}"
        );
        assert!(detail.contains(r#""--9223372036854775808s""#), "{detail}");
        for json in [
            r#"{"ttl":"--9223372036854775808s"}"#,
            r#"{"steps":["1s","--9223372036854775808.5s"]}"#,
            r#"{"named":{"a":"--9223372036854775808s"}}"#,
            r#"{"inner":{"inner":{"ttl":"--9223372036854775808s"}}}"#,
        ] {
            refused::<Timers>(json);
        }
    }

    #[test]
    fn durations_follow_the_proto3_json_form_and_range() {
        for text in [
            "--5s",
            "+5s",
            "-+5s",
            "1.+5s",
            "1.s",
            ".5s",
            "5",
            "1.0000000001s",
            "315576000001s",
            "-315576000001s",
            "99999999999999999999999s",
            "1e3s",
            " 1s",
        ] {
            let detail = refused::<Duration>(&format!("{text:?}"));
            assert!(
                detail.contains("google.protobuf.Duration"),
                "{text}: {detail}"
            );
        }
        let accepted = [
            ("0s", 0, 0),
            ("-0.5s", 0, -500_000_000),
            ("1.000000001s", 1, 1),
            ("-315576000000s", -315_576_000_000, 0),
            ("315576000000.999999999s", 315_576_000_000, 999_999_999),
            ("007s", 7, 0),
        ];
        for (text, seconds, nanos) in accepted {
            let duration = decode::<Duration>(format!("{text:?}").as_bytes()).unwrap();
            assert_eq!(duration, Duration { seconds, nanos }, "{text}");
        }
    }

    #[test]
    fn timestamps_outside_their_range_are_a_400() {
        for text in [
            "0000-12-31T23:59:59Z",
            "9999-12-31T23:59:59-01:00",
            "2016-12-31T23:59:60Z",
        ] {
            let detail = refused::<Timers>(&format!(r#"{{"at":{text:?}}}"#));
            assert!(
                detail.contains("google.protobuf.Timestamp"),
                "{text}: {detail}"
            );
        }
        for (text, seconds) in [
            ("0001-01-01T00:00:00Z", -62_135_596_800),
            ("9999-12-31T23:59:59.999999999Z", 253_402_300_799),
            ("1970-01-01T01:00:00+01:00", 0),
        ] {
            let timers = decode::<Timers>(format!(r#"{{"at":{text:?}}}"#).as_bytes()).unwrap();
            assert_eq!(timers.at.map(|t| t.seconds), Some(seconds), "{text}");
        }
        refused::<Timers>(r#"{"at":"yesterday"}"#);
    }

    #[test]
    fn other_strings_and_trailing_bytes_are_as_before() {
        let timers =
            decode::<Timers>(br#"{"ttl":"1.5s","named":{"--9223372036854775808s":"2s"}}"#).unwrap();
        assert_eq!(
            timers.ttl,
            Some(Duration {
                seconds: 1,
                nanos: 500_000_000
            })
        );
        assert!(
            timers.named.contains_key("--9223372036854775808s"),
            "keys are not durations"
        );
        let detail = refused::<Timers>(r#"{"ttl":"1s"} x"#);
        assert!(detail.contains("trailing characters"), "{detail}");
    }
}
