//! go-micro's JSON form of a [`Message`]: `{"Header":{...},"Body":"<base64>"}`.
//!
//! Go's `broker.Message` has no JSON tags, so `encoding/json` writes the field names as they are,
//! the header map with its keys sorted, and `[]byte` as standard base64 with padding. The HTTP
//! broker POSTs this and the NATS broker publishes it, so Go and Rust services share topics.
//!
//! A received envelope may carry at most [`MAX_HEADERS`] headers holding at most
//! [`MAX_HEADER_BYTES`], the limits an RPC frame's headers have. They are checked while the JSON
//! is read, so an envelope of a million headers is refused without building them. go-micro sets
//! no limit; its publishers send a handful of headers.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::Message;

/// The most headers a broker message may carry: as many as an RPC frame may
/// ([`transport::MAX_HEADERS`](crate::transport::MAX_HEADERS)).
pub const MAX_HEADERS: usize = crate::transport::MAX_HEADERS;

/// The most bytes the headers of a broker message may hold, names and values together:
/// the default header section limit of an RPC frame,
/// [`Limits::max_header_bytes`](crate::transport::Limits::max_header_bytes).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

#[derive(Serialize)]
struct Out<'a> {
    #[serde(rename = "Header")]
    header: &'a BTreeMap<String, String>,
    #[serde(rename = "Body")]
    body: String,
}

// Go's decoder matches field names without regard to case; the aliases cover the spellings other
// publishers use. `Option<Option<_>>` tells a missing field from Go's `null`.
#[derive(Deserialize)]
struct In {
    #[serde(
        rename = "Header",
        alias = "header",
        alias = "HEADER",
        default,
        deserialize_with = "present"
    )]
    header: Option<Option<Header>>,
    #[serde(
        rename = "Body",
        alias = "body",
        alias = "BODY",
        default,
        deserialize_with = "present"
    )]
    body: Option<Option<String>>,
}

/// A field that is there, possibly `null` (serde alone reads `null` as absent).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The envelope's header map, or why it is refused.
enum Header {
    Within(BTreeMap<String, String>),
    /// More than [`MAX_HEADERS`] entries: how many.
    TooMany(usize),
    /// More than [`MAX_HEADER_BYTES`] in names and values.
    TooLarge,
}

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(HeaderVisitor)
    }
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = Header;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of header names to string values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header, A::Error> {
        let mut header = BTreeMap::new();
        let (mut count, mut bytes) = (0, 0);
        while let Some((name, value)) = map.next_entry::<String, String>()? {
            count += 1;
            bytes += name.len() + value.len();
            if count > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
                // The rest is read, to tell bad JSON from too many headers, but not kept: going
                // over the limit costs no more than reading the bytes.
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
                    count += 1;
                }
                return Ok(if count > MAX_HEADERS {
                    Header::TooMany(count)
                } else {
                    Header::TooLarge
                });
            }
            header.insert(name, value);
        }
        Ok(Header::Within(header))
    }
}

/// Encodes `message` as go-micro does.
pub fn encode_envelope(message: &Message) -> Vec<u8> {
    let out = Out {
        header: &message.header,
        body: STANDARD.encode(&message.body),
    };
    // A map of strings and a string always serialize.
    serde_json::to_vec(&out).unwrap_or_default()
}

/// Decodes go-micro's JSON form; the error says what is wrong, for the sender and the log.
///
/// A message with more than [`MAX_HEADERS`] headers, or headers of more than [`MAX_HEADER_BYTES`],
/// is refused.
pub fn decode_envelope(bytes: &[u8]) -> Result<Message, String> {
    let parsed: In = serde_json::from_slice(bytes).map_err(|e| {
        format!("not a go-micro broker message ({{\"Header\":{{..}},\"Body\":\"<base64>\"}}): {e}")
    })?;
    // Go always writes both fields; an object with neither is something else entirely.
    if parsed.header.is_none() && parsed.body.is_none() {
        return Err(
            "not a go-micro broker message: it has neither a Header nor a Body".to_string(),
        );
    }
    let header = match parsed.header.flatten() {
        None => BTreeMap::new(),
        Some(Header::Within(header)) => header,
        Some(Header::TooMany(count)) => {
            return Err(format!(
                "the broker message has {count} headers; at most {MAX_HEADERS} are accepted, as for an RPC call"
            ));
        }
        Some(Header::TooLarge) => {
            return Err(format!(
                "the broker message's headers hold more than {MAX_HEADER_BYTES} bytes (names and values); that is the limit, as for an RPC call"
            ));
        }
    };
    let body = match parsed.body.flatten() {
        Some(text) => STANDARD
            .decode(text.as_bytes())
            .map_err(|e| format!("the Body is not standard base64: {e}"))?,
        None => Vec::new(),
    };
    Ok(Message {
        header,
        body: body.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_as_go_does() {
        let message = Message::new(&b"hi\xff"[..])
            .with_header("Micro-Topic", "events")
            .with_header("Content-Type", "application/json");
        // Go: json.Marshal(&broker.Message{Header: map[string]string{...}, Body: []byte("hi\xff")})
        assert_eq!(
            String::from_utf8(encode_envelope(&message)).unwrap(),
            r#"{"Header":{"Content-Type":"application/json","Micro-Topic":"events"},"Body":"aGn/"}"#
        );
        assert_eq!(
            decode_envelope(&encode_envelope(&message)).unwrap(),
            message
        );
    }

    #[test]
    fn reads_go_nulls() {
        let message = decode_envelope(br#"{"Header":null,"Body":null}"#).unwrap();
        assert_eq!(message, Message::default());
    }

    /// An envelope with `n` headers `h0`.. of `value`, and a topic among them.
    fn with_headers(n: usize, value: &str) -> Vec<u8> {
        let mut json = String::from(r#"{"Header":{"Micro-Topic":"t""#);
        for i in 1..n {
            json.push_str(&format!(r#","h{i}":"{value}""#));
        }
        json.push_str(r#"},"Body":"aGk="}"#);
        json.into_bytes()
    }

    #[test]
    fn header_limits_are_an_rpc_frames() {
        assert_eq!(
            MAX_HEADER_BYTES,
            crate::transport::Limits::default().max_header_bytes
        );
        let at_limit = decode_envelope(&with_headers(MAX_HEADERS, "v")).unwrap();
        assert_eq!(at_limit.header.len(), MAX_HEADERS);

        let error = decode_envelope(&with_headers(MAX_HEADERS + 1, "v")).unwrap_err();
        assert_eq!(
            error,
            "the broker message has 65 headers; at most 64 are accepted, as for an RPC call"
        );
        let error = decode_envelope(&with_headers(200_000, "v")).unwrap_err();
        assert!(error.contains("has 200000 headers"), "{error}");

        // 60 headers of 300 bytes: few enough, but 18 KB.
        let error = decode_envelope(&with_headers(60, &"x".repeat(300))).unwrap_err();
        assert!(error.contains("more than 16384 bytes"), "{error}");
        let one_big = format!(
            r#"{{"Header":{{"Micro-Topic":"t","Big":"{}"}},"Body":""}}"#,
            "x".repeat(MAX_HEADER_BYTES)
        );
        assert!(decode_envelope(one_big.as_bytes()).is_err());
    }

    #[test]
    fn bad_json_after_the_limit_is_still_bad_json() {
        let mut json = with_headers(100, "v");
        json.truncate(json.len() - 20);
        let error = decode_envelope(&json).unwrap_err();
        assert!(error.contains("not a go-micro broker message"), "{error}");
    }

    #[test]
    fn explains_bad_input() {
        assert!(
            decode_envelope(b"hello")
                .unwrap_err()
                .contains("not a go-micro broker message")
        );
        assert!(
            decode_envelope(br#"{"Body":"***"}"#)
                .unwrap_err()
                .contains("base64")
        );
    }
}
