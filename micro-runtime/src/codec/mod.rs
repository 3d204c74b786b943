//! Codecs: how a message becomes a frame body, chosen by the frame's `Content-Type`.
//!
//! | Content-Type | body |
//! |---|---|
//! | `application/protobuf` (also `application/x-protobuf`, `application/proto`) | the protobuf encoding of one message; the server's default when a request has no Content-Type, as in go-micro |
//! | `application/json` | the proto3 JSON mapping (camelCase names, 64-bit integers as strings, enums as names, NaN and ±Infinity as `"NaN"`, `"Infinity"`, `"-Infinity"`, `null` for a field as not set), through the pbjson impls micro-build generates; followed by `\n` as go-micro writes it |
//! | `application/octet-stream` | raw bytes: the body is passed through as an already-encoded protobuf message, as go-micro's `bytes.Frame` passthrough |
//! | yours | any [`Codec`]: register it on the server ([`Server::codec`](crate::server::Server::codec)) and name it in a call's options |
//!
//! Media type parameters (`; charset=utf-8`) are ignored; go-micro rejects them, micro is lenient.
//! A type no registered codec speaks is refused with a 415 error naming the ones it speaks.
//!
//! A codec of your own implements [`Codec`] on a unit struct, put in a `static`, and is used
//! through a [`ContentType`], a copyable handle on it:
//! ```
//! use bytes::{Bytes, BytesMut};
//! use micro_runtime::codec::{Codec, ContentType, Decode, Encode};
//! use micro_runtime::Error;
//!
//! /// JSON as serde_json writes the message's serde value (no newline, no proto3 extras).
//! struct PlainJson;
//!
//! impl Codec for PlainJson {
//!     fn content_type(&self) -> &str {
//!         "application/x-plain-json"
//!     }
//!     fn encode(&self, message: &dyn Encode, out: &mut BytesMut) -> Result<(), Error> {
//!         let mut json = serde_json::Serializer::new(bytes::BufMut::writer(out));
//!         erased_serde::serialize(message.as_serialize(), &mut json)
//!             .map_err(|e| Error::internal_server_error(e.to_string()))
//!     }
//!     fn decode(&self, body: Bytes, message: &mut dyn Decode) -> Result<(), Error> {
//!         let mut json = serde_json::Deserializer::from_slice(&body);
//!         message
//!             .deserialize_from(&mut <dyn erased_serde::Deserializer<'_>>::erase(&mut json))
//!             .map_err(|e| Error::bad_request(e.to_string()))
//!     }
//! }
//!
//! static PLAIN_JSON: PlainJson = PlainJson;
//! let plain = ContentType::new(&PLAIN_JSON);
//! let body = plain.encode(&micro_runtime::well_known::Duration { seconds: 3, nanos: 0 }).unwrap();
//! assert_eq!(body, "\"3s\"");
//! ```

mod codecs;
mod json;
mod json_value;
mod message;
mod proto;

use std::fmt;

use bytes::{Bytes, BytesMut};

pub use codecs::Codecs;
/// Re-exported for codecs in other crates: [`Encode::as_serialize`] and [`Decode::deserialize_from`]
/// speak it.
pub use erased_serde;
pub use json_value::JsonValue;
pub use message::{Decode, Encode};

use crate::error::Error;
use crate::transport::FrameTemplate;
use crate::transport::halves::WriteHalf;

/// A protobuf message that micro can send in every supported encoding.
///
/// Implemented for every message micro-build generates (prost + pbjson give the parts).
pub trait Message:
    prost::Message + Default + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static
{
}

impl<T> Message for T where
    T: prost::Message
        + Default
        + serde::Serialize
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static
{
}

/// One body encoding: a media type and how messages are written in it and read from it.
///
/// Object-safe, and implementable in any crate: messages arrive as [`Encode`] and [`Decode`]
/// trait objects, which give the protobuf and proto3 JSON encodings and the message's serde
/// value. Codecs are used through [`ContentType`] handles on `'static` values.
pub trait Codec: Send + Sync + 'static {
    /// The media type written in `Content-Type`, lowercase (`application/cbor`).
    fn content_type(&self) -> &str;

    /// Other media types read as this one.
    fn aliases(&self) -> &[&str] {
        &[]
    }

    /// Appends the encoding of `message` to `out`. An error is a 500 for whoever asked.
    fn encode(&self, message: &dyn Encode, out: &mut BytesMut) -> Result<(), Error>;

    /// The exact length [`encode`](Self::encode) will write, when the codec knows it without
    /// encoding. `Some` promises that `encode` then writes exactly that many bytes and does not
    /// fail, which lets a stream frame be encoded straight into the socket buffer.
    fn encoded_len(&self, message: &dyn Encode) -> Option<usize> {
        let _ = message;
        None
    }

    /// Decodes `body` into `message` (a default message). An error is a 400 saying why.
    fn decode(&self, body: Bytes, message: &mut dyn Decode) -> Result<(), Error>;
}

/// A body encoding: a copyable handle on a `'static` [`Codec`]. Two handles are equal when their
/// media types are.
#[derive(Clone, Copy)]
pub struct ContentType(&'static dyn Codec);

impl ContentType {
    /// `application/protobuf`, the client's default.
    pub const PROTOBUF: ContentType = ContentType(&proto::Protobuf);
    /// `application/json`, the proto3 JSON mapping.
    pub const JSON: ContentType = ContentType(&json::Json);
    /// `application/octet-stream`: already-encoded protobuf bytes, passed through.
    pub const OCTET_STREAM: ContentType = ContentType(&proto::OctetStream);

    /// A handle on `codec` (a `static`).
    pub const fn new(codec: &'static dyn Codec) -> Self {
        Self(codec)
    }

    /// The header value.
    pub fn as_str(self) -> &'static str {
        self.0.content_type()
    }

    /// The codec.
    pub fn codec(self) -> &'static dyn Codec {
        self.0
    }

    /// Reads a `Content-Type` header value against the built-in codecs (see [`Codecs`] for a
    /// server's own set); `None` (no header) means protobuf, as go-micro's server assumes.
    pub fn from_header(value: Option<&str>) -> Result<Self, Error> {
        Codecs::default().from_header(value)
    }

    /// Encodes a message.
    pub fn encode<M: Message>(self, message: &M) -> Result<Bytes, Error> {
        let mut out = BytesMut::with_capacity(self.0.encoded_len(message).unwrap_or(128));
        self.0.encode(message, &mut out)?;
        Ok(out.freeze())
    }

    /// Queues `message` as one frame of a stream: encoded straight into the writer's buffer when
    /// the codec knows the length (protobuf), so a stream of small messages allocates nothing per
    /// message.
    pub(crate) fn queue_frame<M: Message>(
        self,
        writer: &mut WriteHalf,
        template: &FrameTemplate,
        message: &M,
    ) -> Result<(), Error> {
        match self.0.encoded_len(message) {
            Some(len) => writer.queue_templated(template, len, |buf| {
                // The codec promised not to fail when it knew the length.
                let _ = self.0.encode(message, buf);
            }),
            None => {
                let body = self.encode(message)?;
                writer.queue_templated(template, body.len(), |buf| buf.extend_from_slice(&body));
            }
        }
        Ok(())
    }

    /// Decodes a message; a body that does not parse is a 400 error saying why.
    pub fn decode<M: Message>(self, body: Bytes) -> Result<M, Error> {
        let mut message = M::default();
        self.0.decode(body, &mut message)?;
        Ok(message)
    }

    /// Whether `media` (a media type without parameters) names this codec.
    pub(crate) fn speaks(self, media: &str) -> bool {
        media.eq_ignore_ascii_case(self.as_str())
            || self
                .0
                .aliases()
                .iter()
                .any(|a| media.eq_ignore_ascii_case(a))
    }
}

impl Default for ContentType {
    fn default() -> Self {
        Self::PROTOBUF
    }
}

impl PartialEq for ContentType {
    fn eq(&self, other: &Self) -> bool {
        self.as_str().eq_ignore_ascii_case(other.as_str())
    }
}

impl Eq for ContentType {}

impl std::hash::Hash for ContentType {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().to_ascii_lowercase().hash(state);
    }
}

impl fmt::Debug for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentType({})", self.as_str())
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_content_types() {
        assert_eq!(
            ContentType::from_header(None).unwrap(),
            ContentType::PROTOBUF
        );
        assert_eq!(
            ContentType::from_header(Some("application/json; charset=utf-8")).unwrap(),
            ContentType::JSON
        );
        assert_eq!(
            ContentType::from_header(Some("Application/X-Protobuf")).unwrap(),
            ContentType::PROTOBUF
        );
        let err = ContentType::from_header(Some("text/xml")).unwrap_err();
        assert_eq!(err.code, 415);
        assert!(err.detail.contains("text/xml"), "{err}");
    }
}
