//! go-micro's TXT record: `hex(zlib(JSON))` of the node's service description, in 255-byte strings.
//!
//! go-micro (`registry/mdns_registry.go`, `encode`/`decode`) marshals an untagged Go struct, so the
//! outer keys are capitalised and in Go's field order (`Service`, `Version`, `Endpoints`,
//! `Metadata`), while the endpoints inside keep the registry's lowercase JSON names.

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
    #[serde(
        default,
        deserialize_with = "null_as_default",
        serialize_with = "sorted"
    )]
    pub metadata: HashMap<String, String>,
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
    let hex: Vec<u8> = strings.into_iter().flatten().copied().collect();
    let compressed = from_hex(&hex).ok_or(DecodeError::Hex)?;
    let mut json = Vec::new();
    ZlibDecoder::new(compressed.as_slice())
        .take(MAX_JSON)
        .read_to_end(&mut json)
        .map_err(DecodeError::Zlib)?;
    serde_json::from_slice(&json).map_err(DecodeError::Json)
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

    // The JSON go-micro marshals for a greeter node (Go struct order, nil slices as null) ...
    const GO_JSON: &str = r#"{"Service":"greeter","Version":"latest","Endpoints":[{"request":{"name":"Request","type":"Request","values":[{"name":"name","type":"string","values":null}]},"response":{"name":"Response","type":"Response","values":[{"name":"msg","type":"string","values":null}]},"metadata":{},"name":"Greeter.Hello"}],"Metadata":{"broker":"http","protocol":"mucp","registry":"mdns","server":"mucp","transport":"http"}}"#;
    // ... zlib-compressed by another implementation (C zlib, as a Go peer's bytes also differ
    // from ours) and hex-encoded, as it arrives in two TXT strings.
    const GO_TXT: [&str; 2] = [
        "789c8d90cb8ec2300c45ffc5eb6a3ea07bc46cd880c466c422b45627227582ed22a12aff8ed3092fb1995592a37b7d22cfb043bef80ea185811115191ad8238b8f642c384551432bea53f4a402edcf0c8ce7a9f076067263296f2b6940afe91d5c5cb0dbd2abe1e5782445d9d3f012a429847cc88d692445127cf354f4227a9",
        "04fd328c37f4423aaeb9d3a13d9ab76d77ffbf8fac61022e443039b670c8e1c4fb6ac167e5593cd4c1c35763114e9d415c23878535e0be9498c88ed7ae9d484b223fb3ceb7d4cce37d13d8838",
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
                request: Some(message("Request", "name")),
                response: Some(message("Response", "msg")),
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

    #[test]
    fn decodes_a_go_micro_record_split_in_255_character_strings() {
        assert_eq!(GO_TXT[0].len(), CHUNK);
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
        // The JSON inside has go-micro's capitalised outer keys in Go's field order and the
        // same content as Go's (we write empty nested `values` as `[]` where Go writes `null`).
        let compressed = from_hex(hex.as_bytes()).unwrap();
        let mut json = String::new();
        ZlibDecoder::new(compressed.as_slice())
            .read_to_string(&mut json)
            .unwrap();
        assert!(
            json.starts_with(r#"{"Service":"greeter","Version":"latest","Endpoints":[{"request":"#)
        );
        assert!(json.ends_with(r#""Metadata":{"broker":"http","protocol":"mucp","registry":"mdns","server":"mucp","transport":"http"}}"#));
        let ours: serde_json::Value = serde_json::from_str(&json.replace("[]", "null")).unwrap();
        let go: serde_json::Value = serde_json::from_str(GO_JSON).unwrap();
        assert_eq!(ours, go);
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
        let compressed = from_hex(strings[0].as_bytes()).unwrap();
        let mut json = String::new();
        ZlibDecoder::new(compressed.as_slice())
            .read_to_string(&mut json)
            .unwrap();
        assert_eq!(
            json,
            r#"{"Service":"a","Version":"","Endpoints":null,"Metadata":{}}"#
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
