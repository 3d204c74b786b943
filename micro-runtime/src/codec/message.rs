//! [`Encode`] and [`Decode`]: a generated message as a codec sees it, without generics.
//!
//! A [`Codec`](super::Codec) is a trait object, so it cannot have generic methods; it gets the
//! message as `&dyn Encode` or `&mut dyn Decode` instead. Both are implemented for every
//! [`Message`]: the encodings the message knows itself (protobuf through prost, the proto3 JSON
//! mapping through pbjson) are compiled for its type, and every other format goes through serde
//! with the types erased ([`erased_serde`]), so a MessagePack or CBOR codec in another crate
//! works on every message.

use bytes::{Bytes, BytesMut};

use super::{Message, json};
use crate::error::{Error, SERVER_ID};

/// A message to encode. Implemented for every [`Message`].
pub trait Encode: Send + Sync {
    /// The length of the protobuf encoding.
    fn protobuf_len(&self) -> usize;
    /// Appends the protobuf encoding.
    fn encode_protobuf(&self, out: &mut BytesMut);
    /// Appends the proto3 JSON encoding, as micro's JSON codec writes it.
    fn encode_json(&self, out: &mut BytesMut) -> Result<(), Error>;
    /// The message as a serde value (its serde impl is the proto3 JSON mapping's shape): what
    /// other formats serialize.
    fn as_serialize(&self) -> &dyn erased_serde::Serialize;
}

/// A message to decode into, starting as the default message. Implemented for every [`Message`].
pub trait Decode: Send {
    /// Decodes a protobuf body into the message.
    fn decode_protobuf(&mut self, body: Bytes) -> Result<(), Error>;
    /// Decodes a proto3 JSON body into the message, as micro's JSON codec reads it.
    fn decode_json(&mut self, body: &[u8]) -> Result<(), Error>;
    /// Deserializes the message from any serde format.
    fn deserialize_from(
        &mut self,
        deserializer: &mut dyn erased_serde::Deserializer<'_>,
    ) -> Result<(), erased_serde::Error>;
}

impl<M: Message> Encode for M {
    fn protobuf_len(&self) -> usize {
        prost::Message::encoded_len(self)
    }

    fn encode_protobuf(&self, out: &mut BytesMut) {
        // Only fails for want of room, and a BytesMut grows.
        let _ = prost::Message::encode(self, out);
    }

    fn encode_json(&self, out: &mut BytesMut) -> Result<(), Error> {
        json::encode(self, out)
    }

    fn as_serialize(&self) -> &dyn erased_serde::Serialize {
        self
    }
}

impl<M: Message> Decode for M {
    fn decode_protobuf(&mut self, body: Bytes) -> Result<(), Error> {
        prost::Message::merge(self, body).map_err(|e| {
            Error::bad_request(format!("cannot decode protobuf body: {e}")).with_id(SERVER_ID)
        })
    }

    fn decode_json(&mut self, body: &[u8]) -> Result<(), Error> {
        *self = json::decode::<M>(body)?;
        Ok(())
    }

    fn deserialize_from(
        &mut self,
        deserializer: &mut dyn erased_serde::Deserializer<'_>,
    ) -> Result<(), erased_serde::Error> {
        *self = erased_serde::deserialize::<M>(deserializer)?;
        Ok(())
    }
}
