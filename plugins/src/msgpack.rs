//! MessagePack bodies, `application/msgpack`, through rmp-serde.
//!
//! Messages are written as their serde value (the proto3 JSON mapping's shape: field names in
//! camelCase, 64-bit integers as strings), as a map per message, so a reader in another language
//! sees named fields.

use bytes::{BufMut, Bytes, BytesMut};
use micro_runtime::Error;
use micro_runtime::codec::{Codec, ContentType, Decode, Encode, erased_serde};

/// The MessagePack codec.
#[derive(Debug)]
pub struct MsgPack;

/// A handle on the MessagePack codec, for servers, calls and publishers.
pub const MSGPACK: ContentType = ContentType::new(&MsgPack);

impl Codec for MsgPack {
    fn content_type(&self) -> &str {
        "application/msgpack"
    }

    fn aliases(&self) -> &[&str] {
        &["application/x-msgpack", "application/vnd.msgpack"]
    }

    fn encode(&self, message: &dyn Encode, out: &mut BytesMut) -> Result<(), Error> {
        let mut serializer = rmp_serde::Serializer::new(out.writer()).with_struct_map();
        erased_serde::serialize(message.as_serialize(), &mut serializer)
            .map_err(|e| Error::internal_server_error(format!("cannot encode MessagePack: {e}")))
    }

    fn decode(&self, body: Bytes, message: &mut dyn Decode) -> Result<(), Error> {
        let mut deserializer = rmp_serde::Deserializer::new(&body[..]);
        message
            .deserialize_from(&mut <dyn erased_serde::Deserializer<'_>>::erase(
                &mut deserializer,
            ))
            .map_err(|e| Error::bad_request(format!("cannot decode MessagePack body: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use micro_runtime::well_known::{Duration, Struct, Value};

    use super::*;

    #[test]
    fn messages_round_trip() {
        let duration = Duration {
            seconds: 90,
            nanos: 5,
        };
        let body = MSGPACK.encode(&duration).unwrap();
        assert_eq!(MSGPACK.decode::<Duration>(body).unwrap(), duration);
        let object = Struct::from_iter([("n".to_string(), Value::from(1.5))]);
        let body = MSGPACK.encode(&object).unwrap();
        assert_eq!(MSGPACK.decode::<Struct>(body).unwrap(), object);
    }

    #[test]
    fn garbage_is_a_400() {
        let err = MSGPACK
            .decode::<Duration>(Bytes::from_static(b"\xc1\xc1"))
            .unwrap_err();
        assert_eq!(err.code, 400, "{err}");
    }
}
