//! [`Json`]: a message of any shape, for streams whose types the command line only knows from
//! the registry. It travels as JSON only (the stream's content type), through micro's JSON codec.
//!
//! The client's stream API is generic over generated messages (prost for protobuf, serde for
//! JSON). This type's serde impls pass any JSON value through. Its prost impl exists only to meet
//! the bound, and writes and reads nothing: `micro stream` never sends protobuf.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Any JSON value, as a stream message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Json(pub serde_json::Value);

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(deserializer).map(Json)
    }
}

impl prost::Message for Json {
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
