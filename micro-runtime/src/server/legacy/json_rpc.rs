//! The json-rpc envelope: JSON-RPC 1.0 as go-micro's `codec/jsonrpc` (after Go's `net/rpc/jsonrpc`)
//! reads and writes it.
//!
//! Request `{"params":[<message>],"id":"<seq>","method":"Svc.Method"}`; response
//! `{"id":"<id>","result":<message>|null,"error":null|"<text>"}` plus `\n`.

use std::fmt;

use bytes::Bytes;
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::go_text::{go_quote, go_value};
use super::{LegacyCodec, LegacyError};

/// A json-rpc request envelope, read; the message inside `params` is checked only when asked for,
/// because go-micro routes before it reads the body (so a bad body never hides a routing error).
#[derive(Debug)]
pub(super) struct Request {
    pub(super) method: String,
    pub(super) id: String,
    params: Option<Box<RawValue>>,
}

impl Request {
    /// Reads the envelope: one JSON value; like Go's `json.Decoder`, anything after it is ignored.
    pub(super) fn decode(body: &[u8]) -> Result<Self, LegacyError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(decode_error(
                "empty body: expected a json-rpc request object",
            ));
        }
        let mut de = serde_json::Deserializer::from_slice(body);
        // `null` decodes to nothing in Go, leaving every field empty.
        let fields = Option::<Fields>::deserialize(&mut de)
            .map_err(|e| decode_error(format!("not a json-rpc request object: {e}")))?
            .unwrap_or_default();
        let method = match fields.method.as_deref().map(RawValue::get) {
            None | Some("null") => String::new(),
            Some(raw) => serde_json::from_str::<String>(raw).map_err(|_| {
                decode_error(format!(
                    "the method must be a string like \"Svc.Method\", got {raw}"
                ))
            })?,
        };
        let id = match fields.id.as_deref().map(RawValue::get) {
            // go-micro formats the id with Go's `%v`: a missing one reads "<nil>".
            None => "<nil>".to_string(),
            Some(raw) => {
                go_value(&serde_json::from_str(raw).map_err(|e| decode_error(e.to_string()))?)
            }
        };
        Ok(Request {
            method,
            id,
            params: fields.params,
        })
    }

    /// The message: the first element of `params`, as JSON; empty (the empty message) when `params`
    /// is `[]` or `[null]`, as Go leaves the argument untouched then.
    pub(super) fn into_message(self) -> Result<Bytes, LegacyError> {
        // go-micro dereferences a nil params pointer here, panics and never answers; micro answers.
        let Some(params) = self.params.filter(|p| p.get() != "null") else {
            return Err(decode_error("no params: expected \"params\":[<message>]"));
        };
        let elements: Vec<&RawValue> = serde_json::from_str(params.get()).map_err(|_| {
            decode_error(format!(
                "params must be an array holding the message, got {}",
                params.get()
            ))
        })?;
        Ok(match elements.first().map(|m| m.get()) {
            None | Some("null") => Bytes::new(),
            Some(message) => Bytes::copy_from_slice(message.as_bytes()),
        })
    }
}

/// Encodes a response as go-micro's server codec writes it through `json.Encoder`: fields in
/// `id`, `result`, `error` order, Go's string escaping, and a closing newline. `result` is a JSON
/// message (a trailing newline is dropped); `None` writes `null`, as does an empty `error`.
pub(super) fn encode_response(id: &str, result: Option<&[u8]>, error: &str) -> Bytes {
    let result = result.map(|r| r.trim_ascii_end()).unwrap_or(b"null");
    let mut out = Vec::with_capacity(40 + id.len() + result.len() + error.len());
    out.extend_from_slice(b"{\"id\":");
    go_quote(&mut out, id);
    out.extend_from_slice(b",\"result\":");
    out.extend_from_slice(result);
    out.extend_from_slice(b",\"error\":");
    if error.is_empty() {
        out.extend_from_slice(b"null");
    } else {
        go_quote(&mut out, error);
    }
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

fn decode_error(why: impl Into<String>) -> LegacyError {
    LegacyError::Decode {
        codec: LegacyCodec::JsonRpc,
        why: why.into(),
    }
}

/// The three members go-micro reads, kept as raw JSON.
#[derive(Default)]
struct Fields {
    id: Option<Box<RawValue>>,
    params: Option<Box<RawValue>>,
    method: Option<Box<RawValue>>,
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FieldsVisitor)
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with method, id and params")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
        let mut fields = Fields::default();
        while let Some(key) = map.next_key::<String>()? {
            let value: Box<RawValue> = map.next_value()?;
            // Go's encoding/json matches member names case-insensitively; the last one wins.
            let slot = match key.to_ascii_lowercase().as_str() {
                "id" => &mut fields.id,
                "params" => &mut fields.params,
                "method" => &mut fields.method,
                _ => continue,
            };
            *slot = Some(value);
        }
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_go_micro_client_request() {
        // go-micro's jsonrpc clientCodec: `json.Encoder` of {params, id, method}.
        let body = b"{\"params\":[{\"name\":\"Ann\"}],\"id\":\"7\",\"method\":\"Greeter.Hello\"}\n";
        let request = Request::decode(body).unwrap();
        assert_eq!(request.method, "Greeter.Hello");
        assert_eq!(request.id, "7");
        assert_eq!(&request.into_message().unwrap()[..], br#"{"name":"Ann"}"#);
    }

    #[test]
    fn member_names_match_case_insensitively_and_the_last_wins() {
        let body = br#"{"METHOD":"A.B","Id":1,"method":"Greeter.Hello","Params":[]}"#;
        let request = Request::decode(body).unwrap();
        assert_eq!(request.method, "Greeter.Hello");
        assert_eq!(request.id, "1");
        assert!(request.into_message().unwrap().is_empty());
    }

    #[test]
    fn ids_are_formatted_as_go_formats_them() {
        let id = |raw: &str| {
            Request::decode(format!(r#"{{"id":{raw},"method":"A.B"}}"#).as_bytes())
                .unwrap()
                .id
        };
        assert_eq!(id(r#""abc""#), "abc");
        assert_eq!(id("1"), "1");
        assert_eq!(id("1234567"), "1.234567e+06");
        assert_eq!(id("null"), "<nil>");
        assert_eq!(id("true"), "true");
        let missing = Request::decode(br#"{"method":"A.B"}"#).unwrap();
        assert_eq!(missing.id, "<nil>");
    }

    #[test]
    fn params_other_than_an_array_are_refused_after_routing() {
        let request = Request::decode(br#"{"method":"A.B","params":{"name":"x"}}"#).unwrap();
        let err = request.into_message().unwrap_err().to_string();
        assert!(err.contains("params must be an array"), "{err}");
        for body in [
            &br#"{"method":"A.B"}"#[..],
            br#"{"method":"A.B","params":null}"#,
        ] {
            let err = Request::decode(body).unwrap().into_message().unwrap_err();
            assert!(err.to_string().contains("no params"), "{err}");
        }
        let first_null = Request::decode(br#"{"method":"A.B","params":[null,2]}"#).unwrap();
        assert!(first_null.into_message().unwrap().is_empty());
    }

    #[test]
    fn bad_envelopes_are_clear_errors() {
        let cases: [(&[u8], &str); 5] = [
            (b"", "empty body"),
            (b"not json", "not a json-rpc request object"),
            (b"[1,2]", "not a json-rpc request object"),
            (br#"{"method":5}"#, "the method must be a string"),
            (br#"{"method":"A.B","id":"#, "not a json-rpc request object"),
        ];
        for (body, expected) in cases {
            let err = Request::decode(body).unwrap_err().to_string();
            assert!(
                err.starts_with("rpc: router cannot decode request: json-rpc: "),
                "{err}"
            );
            assert!(err.contains(expected), "{expected:?} in {err}");
        }
    }

    #[test]
    fn a_request_without_method_reads_as_an_empty_endpoint() {
        // curl's `{"name":"alice"}` with no Micro-Endpoint: go-micro routes "" and says ill-formed.
        let request = Request::decode(br#"{"name":"alice"}"#).unwrap();
        assert_eq!(request.method, "");
        assert_eq!(request.id, "<nil>");
        let null = Request::decode(b"null").unwrap();
        assert_eq!(null.method, "");
    }

    #[test]
    fn responses_are_written_byte_for_byte_as_go_micro_writes_them() {
        assert_eq!(
            &encode_response("7", Some(b"{\"greeting\":\"Hello Ann\"}\n"), "")[..],
            b"{\"id\":\"7\",\"result\":{\"greeting\":\"Hello Ann\"},\"error\":null}\n"
        );
        assert_eq!(
            &encode_response("", None, "rpc: service/endpoint request ill-formed: ")[..],
            b"{\"id\":\"\",\"result\":null,\"error\":\"rpc: service/endpoint request ill-formed: \"}\n"
        );
        // A micro error travels as its JSON, escaped as Go's encoder escapes it.
        assert_eq!(
            &encode_response("", None, r#"{"id":"greeter","code":400,"detail":"<bad> & \"x\""}"#)[..],
            b"{\"id\":\"\",\"result\":null,\"error\":\"{\\\"id\\\":\\\"greeter\\\",\\\"code\\\":400,\\\"detail\\\":\\\"\\u003cbad\\u003e \\u0026 \\\\\\\"x\\\\\\\"\\\"}\"}\n"
        );
    }

    #[test]
    fn a_response_reads_back_as_json() {
        let body = encode_response("9", Some(b"{\"a\":1}"), "");
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["id"], "9");
        assert_eq!(value["result"]["a"], 1);
        assert!(value["error"].is_null());
    }
}
