//! Entry points for the fuzz targets in `fuzz/` that reach crate-internal code. Built only under
//! cargo-fuzz (`--cfg fuzzing`), never part of the API.

use bytes::Bytes;

use crate::server::legacy::LegacyCodec;
use crate::transport::Headers;

/// Reads `body` as a json-rpc (`json`) or proto-rpc request the way the server does, and checks
/// that the replies written for it read back: the id survives, errors keep their text.
pub fn legacy_request(json: bool, body: &[u8]) {
    let codec = if json {
        LegacyCodec::JsonRpc
    } else {
        LegacyCodec::ProtoRpc
    };
    let body = Bytes::copy_from_slice(body);
    let request = match codec.decode(&Headers::new(), &body, 1 << 20) {
        Ok(request) => request,
        Err(err) => return check_error(codec, &err.to_string()),
    };
    let id = request.id.clone();
    let endpoint = request.endpoint.clone();
    let message = match request.into_message() {
        Ok(message) => message,
        Err(err) => return check_error(codec, &err.to_string()),
    };
    check_error(codec, &endpoint);
    let reply = codec.encode_reply(&id, if json { b"{}\n" } else { &message });
    if json {
        let value: serde_json::Value =
            serde_json::from_slice(&reply).expect("json-rpc reply parses");
        assert_eq!(value["id"].as_str(), Some(id.as_str()));
    } else {
        assert!(reply.len() >= 8 + message.len());
    }
}

fn check_error(codec: LegacyCodec, text: &str) {
    let reply = codec.encode_error(text);
    if codec == LegacyCodec::JsonRpc {
        let value: serde_json::Value =
            serde_json::from_slice(&reply).expect("json-rpc error parses");
        let error = value["error"].as_str().unwrap_or("");
        assert_eq!(error, text);
    } else {
        let text_len = text.len();
        assert!(reply.len() >= 8 + text_len);
    }
}
