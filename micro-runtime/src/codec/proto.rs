//! The protobuf codecs: prost's encoding of one message, the body length delimiting it.

use bytes::{Bytes, BytesMut};

use super::{Codec, Decode, Encode};
use crate::error::Error;

/// `application/protobuf`, the server's default for a request with no Content-Type (go-micro's).
#[derive(Debug)]
pub(super) struct Protobuf;

/// `application/octet-stream`: already-encoded protobuf bytes, passed through as go-micro's
/// `bytes.Frame` does; for a typed message, the same bytes as protobuf.
#[derive(Debug)]
pub(super) struct OctetStream;

macro_rules! protobuf_codec {
    ($name:ident, $media:literal, [$($alias:literal),*]) => {
        impl Codec for $name {
            fn content_type(&self) -> &str {
                $media
            }

            fn aliases(&self) -> &[&str] {
                &[$($alias),*]
            }

            fn encoded_len(&self, message: &dyn Encode) -> Option<usize> {
                Some(message.protobuf_len())
            }

            fn encode(&self, message: &dyn Encode, out: &mut BytesMut) -> Result<(), Error> {
                message.encode_protobuf(out);
                Ok(())
            }

            fn decode(&self, body: Bytes, message: &mut dyn Decode) -> Result<(), Error> {
                message.decode_protobuf(body)
            }
        }
    };
}

protobuf_codec!(
    Protobuf,
    "application/protobuf",
    ["application/x-protobuf", "application/proto"]
);
protobuf_codec!(OctetStream, "application/octet-stream", []);
