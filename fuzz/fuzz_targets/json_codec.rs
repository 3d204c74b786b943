//! Arbitrary bytes into micro's JSON codec, decoding a message with every field kind and the
//! well-known types (`proto/everything.proto`). Whatever decodes must encode, and its encoding must
//! decode to the same encoding again. Encodings are compared as parsed JSON values: map fields come
//! out in any order.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use micro_runtime::codec::ContentType;

#[allow(missing_docs, clippy::all)]
mod proto {
    micro_runtime::include_protos!();
}

use proto::fuzz::Everything;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = ContentType::JSON.decode::<Everything>(Bytes::copy_from_slice(data)) else {
        return;
    };
    let json = ContentType::JSON
        .encode(&message)
        .expect("a decoded message encodes");
    let again = ContentType::JSON
        .decode::<Everything>(json.clone())
        .unwrap_or_else(|e| panic!("micro's own JSON does not decode: {e}\n{json:?}"));
    let json_again = ContentType::JSON.encode(&again).expect("encodes again");
    assert_eq!(
        value(&json),
        value(&json_again),
        "JSON round trip changed the message"
    );
    // The protobuf encoding of the same message must round trip too.
    let proto = ContentType::PROTOBUF
        .encode(&message)
        .expect("protobuf encodes");
    let from_proto = ContentType::PROTOBUF
        .decode::<Everything>(proto)
        .expect("micro's own protobuf decodes");
    let json_from_proto = ContentType::JSON.encode(&from_proto).expect("encodes");
    assert_eq!(
        value(&json_from_proto),
        value(&json),
        "protobuf round trip changed it"
    );
});

/// An encoding as a JSON value, to compare without regard to the order of map entries.
fn value(json: &[u8]) -> serde_json::Value {
    serde_json::from_slice(json).expect("micro writes JSON")
}
