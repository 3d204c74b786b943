//! go-micro's JSON form of a [`Message`]: `{"Header":{...},"Body":"<base64>"}`.
//!
//! Go's `broker.Message` has no JSON tags, so `encoding/json` writes the field names as they are,
//! the header map with its keys sorted, and `[]byte` as standard base64 with padding. The HTTP
//! broker POSTs this and the NATS broker publishes it, so Go and Rust services share topics.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::Message;

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
    header: Option<Option<BTreeMap<String, String>>>,
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
    let body = match parsed.body.flatten() {
        Some(text) => STANDARD
            .decode(text.as_bytes())
            .map_err(|e| format!("the Body is not standard base64: {e}"))?,
        None => Vec::new(),
    };
    Ok(Message {
        header: parsed.header.flatten().unwrap_or_default(),
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
