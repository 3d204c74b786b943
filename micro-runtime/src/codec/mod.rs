//! Codecs: how a message becomes a frame body, chosen by the frame's `Content-Type`.
//!
//! | Content-Type | body |
//! |---|---|
//! | `application/protobuf` (also `application/x-protobuf`) | the protobuf encoding of one message; the server's default when a request has no Content-Type, as in go-micro |
//! | `application/json` | the proto3 JSON mapping (camelCase names, 64-bit integers as strings, enums as names, NaN and ±Infinity as `"NaN"`, `"Infinity"`, `"-Infinity"`, `null` for a field as not set), through the pbjson impls micro-build generates; followed by `\n` as go-micro writes it |
//! | `application/octet-stream` | raw bytes: the body is passed through as an already-encoded protobuf message, as go-micro's `bytes.Frame` passthrough |
//!
//! Media type parameters (`; charset=utf-8`) are ignored; go-micro rejects them, micro is lenient.
//! Any other type is refused with a 415 error naming it.

mod json;
mod proto;

use bytes::Bytes;

use crate::error::{Error, SERVER_ID};
use crate::transport::{FrameTemplate, FrameWriter};

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

/// The body encodings micro speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ContentType {
    /// `application/protobuf`.
    #[default]
    Protobuf,
    /// `application/json`, the proto3 JSON mapping.
    Json,
    /// `application/octet-stream`: already-encoded protobuf bytes, passed through.
    OctetStream,
}

impl ContentType {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Protobuf => "application/protobuf",
            ContentType::Json => "application/json",
            ContentType::OctetStream => "application/octet-stream",
        }
    }

    /// Reads a `Content-Type` header value; `None` (no header) means protobuf, as go-micro's server
    /// assumes. An unknown type is a 415 error naming it.
    pub fn from_header(value: Option<&str>) -> Result<Self, Error> {
        let Some(value) = value else {
            return Ok(ContentType::Protobuf);
        };
        let media = value.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("application/protobuf")
            || media.eq_ignore_ascii_case("application/x-protobuf")
            || media.eq_ignore_ascii_case("application/proto")
        {
            Ok(ContentType::Protobuf)
        } else if media.eq_ignore_ascii_case("application/json") {
            Ok(ContentType::Json)
        } else if media.eq_ignore_ascii_case("application/octet-stream") {
            Ok(ContentType::OctetStream)
        } else {
            Err(Error::unsupported_media_type(format!(
                    "unsupported Content-Type: {value} (micro speaks application/protobuf, application/json and application/octet-stream)"
                )).with_id(SERVER_ID))
        }
    }

    /// Encodes a message.
    pub fn encode<M: Message>(self, message: &M) -> Result<Bytes, Error> {
        match self {
            ContentType::Protobuf | ContentType::OctetStream => Ok(proto::encode(message)),
            ContentType::Json => json::encode(message),
        }
    }

    /// Queues `message` as one frame of a stream, encoding protobuf straight into the writer's
    /// buffer: a stream of small messages allocates nothing per message.
    pub(crate) fn queue_frame<M: Message, W: tokio::io::AsyncWrite + Unpin>(
        self,
        writer: &mut FrameWriter<W>,
        template: &FrameTemplate,
        message: &M,
    ) -> Result<(), Error> {
        match self {
            ContentType::Protobuf | ContentType::OctetStream => {
                writer.queue_templated(template, message.encoded_len(), |buf| {
                    // `encode` only fails for want of room, and a BytesMut grows.
                    let _ = message.encode(buf);
                });
            }
            ContentType::Json => {
                let body = json::encode(message)?;
                writer.queue_templated(template, body.len(), |buf| buf.extend_from_slice(&body));
            }
        }
        Ok(())
    }

    /// Decodes a message; a body that does not parse is a 400 error saying why.
    pub fn decode<M: Message>(self, body: Bytes) -> Result<M, Error> {
        match self {
            ContentType::Protobuf | ContentType::OctetStream => proto::decode(body),
            ContentType::Json => json::decode(&body),
        }
    }
}

impl std::fmt::Display for ContentType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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
            ContentType::Protobuf
        );
        assert_eq!(
            ContentType::from_header(Some("application/json; charset=utf-8")).unwrap(),
            ContentType::Json
        );
        let err = ContentType::from_header(Some("text/xml")).unwrap_err();
        assert_eq!(err.code, 415);
        assert!(err.detail.contains("text/xml"), "{err}");
    }
}
