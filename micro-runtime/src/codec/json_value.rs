//! [`JsonValue`]: a message of any shape, for code that knows a stream's types only from the
//! registry (the gateway, the `micro` command line). It travels as JSON only (the stream's
//! content type), through micro's JSON codec.
//!
//! The client's stream API is generic over generated messages (prost for protobuf, serde for
//! JSON). This type's serde impls pass any JSON value through. Its prost impl exists only to meet
//! the bound, and writes and reads nothing: send it with [`ContentType::JSON`](super::ContentType::JSON).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Any JSON value, as a message (JSON content type only).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JsonValue(pub serde_json::Value);

impl Serialize for JsonValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for JsonValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(deserializer).map(JsonValue)
    }
}

impl prost::Message for JsonValue {
    fn encode_raw(&self, _buf: &mut impl bytes::BufMut) {}

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: prost::encoding::WireType,
        buf: &mut impl bytes::Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        0
    }

    fn clear(&mut self) {
        self.0 = serde_json::Value::Null;
    }
}
