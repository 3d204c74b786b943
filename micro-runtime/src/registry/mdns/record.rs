//! go-micro's TXT record: `hex(zlib(JSON))` of the node's service description, in 255-byte strings.
//!
//! go-micro (`registry/mdns_registry.go`, `encode`/`decode`) marshals its untagged `mdnsTxt`
//! struct, so the outer keys are capitalised and in that struct's field order (`Metadata`,
//! `Service`, `Version`, `Endpoints`), while the endpoints inside keep the registry's lowercase
//! JSON names.

use std::collections::HashMap;
use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use serde::{Deserialize, Serialize};

use crate::registry::{Endpoint, empty_as_null, null_as_default, sorted};

// A DNS character-string holds at most 255 bytes; go-micro splits the hex there.
const CHUNK: usize = 255;
// A record from the network never inflates past this: the JSON of a large service is tens of KiB.
const MAX_JSON: u64 = 1 << 20;

/// What one node's TXT record says (go-micro's `mdnsTxt`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Txt {
    // Field order is mdnsTxt's, so the JSON is byte-identical to a Go node's.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        serialize_with = "sorted"
    )]
    pub metadata: HashMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub service: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub version: String,
    // Go writes a nil slice as `null`; a server with no handlers has none.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        serialize_with = "empty_as_null"
    )]
    pub endpoints: Vec<Endpoint>,
}

/// Why a TXT record from the network could not be read.
#[derive(Debug)]
pub(super) enum DecodeError {
    Hex,
    Zlib(std::io::Error),
    Json(serde_json::Error),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Hex => f.write_str("TXT is not hex"),
            DecodeError::Zlib(err) => write!(f, "TXT is not zlib: {err}"),
            DecodeError::Json(err) => write!(f, "TXT is not go-micro JSON: {err}"),
        }
    }
}

/// Encodes `txt` as go-micro does: JSON, zlib, lowercase hex, 255-character strings.
pub(super) fn encode(txt: &Txt) -> Vec<String> {
    // Serializing plain strings and maps cannot fail, and writing to a Vec cannot either.
    let json = serde_json::to_vec(txt).expect("TXT JSON serializes");
    let mut zlib = ZlibEncoder::new(Vec::new(), Compression::default());
    zlib.write_all(&json).expect("zlib into a Vec");
    let compressed = zlib.finish().expect("zlib into a Vec");
    let hex = to_hex(&compressed);
    // Hex is ASCII, so splitting at any byte offset stays on a char boundary.
    hex.as_bytes()
        .chunks(CHUNK)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect()
}

/// Decodes a TXT record's strings, joined back together first.
pub(super) fn decode<'a>(strings: impl IntoIterator<Item = &'a [u8]>) -> Result<Txt, DecodeError> {
    serde_json::from_slice(&inflate(strings)?).map_err(DecodeError::Json)
}

/// The JSON inside a TXT record's strings, as its writer marshalled it.
pub(super) fn inflate<'a>(
    strings: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, DecodeError> {
    let hex: Vec<u8> = strings.into_iter().flatten().copied().collect();
    let compressed = from_hex(&hex).ok_or(DecodeError::Hex)?;
    let mut json = Vec::new();
    ZlibDecoder::new(compressed.as_slice())
        .take(MAX_JSON)
        .read_to_end(&mut json)
        .map_err(DecodeError::Zlib)?;
    Ok(json)
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

fn from_hex(hex: &[u8]) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    hex.chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Value;

    // The JSON a go-micro v6.10.0 greeter node marshals (mdnsTxt's field order, nil slices as
    // null), and its TXT strings as sent (tests/go-micro-wire/registry-mdns/04-announce.bin).
    const GO_JSON: &str = r#"{"Metadata":{"broker":"http","protocol":"mucp","registry":"mdns","server":"mucp","transport":"http"},"Service":"greeter","Version":"latest","Endpoints":[{"request":{"name":"HelloRequest","type":"HelloRequest","values":[{"name":"name","type":"string","values":null}]},"response":{"name":"HelloResponse","type":"HelloResponse","values":[{"name":"greeting","type":"string","values":null}]},"metadata":{},"name":"Greeter.Hello"}]}"#;
    const GO_TXT: [&str; 2] = [
        "789c8491c16ac3301044ff65cea21fa07b692ebdb4d04bc941b517d754de5577d78660f4ef45899394a69093e0313b8f412b9ec9539f3c21aef850f92245c4a77b41405171e92423629abb469486d15c0f8df46c0830d285f49a704d6c45d4cf3535e09574193b42c4a0444e8a8037521b851191939339021eb92f32b21be2f",
        "b0aa5efb9f1b882d3d48e7794b3bc6c38c00fe51fbaa43cd3a9613b3b3e97b8b98e3cfc0af29c73ddd7b6cd8ab0d1ad71e37f95177ceb3cee3c79ee7aa7eb0fd4702e786a05a40f3bca5950f7f5670044ec9216",
    ];

    fn greeter() -> Txt {
        let field = |name: &str| Value {
            name: name.into(),
            type_name: "string".into(),
            values: vec![],
        };
        let message = |name: &str, f: &str| Value {
            name: name.into(),
            type_name: name.into(),
            values: vec![field(f)],
        };
        Txt {
            service: "greeter".into(),
            version: "latest".into(),
            endpoints: vec![Endpoint {
                name: "Greeter.Hello".into(),
                request: Some(message("HelloRequest", "name")),
                response: Some(message("HelloResponse", "greeting")),
                metadata: HashMap::new(),
            }],
            metadata: [
                ("broker", "http"),
                ("protocol", "mucp"),
                ("registry", "mdns"),
                ("server", "mucp"),
                ("transport", "http"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        }
    }

    fn json(hex: &str) -> String {
        String::from_utf8(inflate([hex.as_bytes()]).unwrap()).unwrap()
    }

    #[test]
    fn decodes_a_go_micro_record_split_in_255_character_strings() {
        assert_eq!(GO_TXT[0].len(), CHUNK);
        assert_eq!(json(&GO_TXT.concat()), GO_JSON);
        let txt = decode(GO_TXT.iter().map(|s| s.as_bytes())).unwrap();
        assert_eq!(txt, greeter());
    }

    #[test]
    fn encodes_go_micro_json_as_lowercase_hex_of_zlib_in_255_character_strings() {
        let strings = encode(&greeter());
        assert!(strings.len() >= 2, "{strings:?}");
        let (last, full) = strings.split_last().unwrap();
        assert!(full.iter().all(|s| s.len() == CHUNK));
        assert!(!last.is_empty() && last.len() <= CHUNK);
        let hex = strings.concat();
        assert!(hex.starts_with("789c"), "zlib header: {hex}");
        assert!(hex.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
        // The JSON inside is Go's byte for byte; the zlib stream around it need not be (Go's
        // compress/zlib and flate2 pick different matches), and Go's reader does not care.
        assert_eq!(json(&hex), GO_JSON);
        assert_eq!(
            decode(strings.iter().map(|s| s.as_bytes())).unwrap(),
            greeter()
        );
    }

    #[test]
    fn a_short_record_is_one_string_and_no_endpoints_are_null() {
        let txt = Txt {
            service: "a".into(),
            ..Txt::default()
        };
        let strings = encode(&txt);
        assert_eq!(strings.len(), 1);
        assert_eq!(
            json(&strings[0]),
            r#"{"Metadata":{},"Service":"a","Version":"","Endpoints":null}"#
        );
    }

    #[test]
    fn rejects_bad_hex_bad_zlib_and_bad_json() {
        let bad_hex: &[u8] = b"zz";
        assert!(matches!(decode([bad_hex]), Err(DecodeError::Hex)));
        let odd: &[u8] = b"789";
        assert!(matches!(decode([odd]), Err(DecodeError::Hex)));
        let not_zlib: &[u8] = b"deadbeef";
        assert!(matches!(decode([not_zlib]), Err(DecodeError::Zlib(_))));
        let mut zlib = ZlibEncoder::new(Vec::new(), Compression::default());
        zlib.write_all(b"{not json").unwrap();
        let hex = to_hex(&zlib.finish().unwrap());
        assert!(matches!(
            decode([hex.as_bytes()]),
            Err(DecodeError::Json(_))
        ));
    }
}
