//! [`Codecs`]: the content types a server reads, the built-ins and the ones registered.

use super::ContentType;
use crate::error::{Error, SERVER_ID};

/// Content type → codec: what a server (and its subscribers) decode with. Starts with the
/// built-in protobuf, JSON and octet-stream codecs; [`register`](Self::register) adds more.
#[derive(Clone, Debug)]
pub struct Codecs {
    // A handful at most: a scan beats hashing a lowercased copy of every header value.
    known: Vec<ContentType>,
}

impl Default for Codecs {
    fn default() -> Self {
        Self {
            known: vec![
                ContentType::PROTOBUF,
                ContentType::JSON,
                ContentType::OCTET_STREAM,
            ],
        }
    }
}

impl Codecs {
    /// The built-in codecs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a codec; one for a media type already known replaces it.
    pub fn register(&mut self, content_type: ContentType) {
        self.known.retain(|known| *known != content_type);
        self.known.push(content_type);
    }

    /// The codec for a media type (parameters such as `; charset=utf-8` ignored), if known.
    pub fn get(&self, media: &str) -> Option<ContentType> {
        let media = media.split(';').next().unwrap_or("").trim();
        self.known.iter().copied().find(|ct| ct.speaks(media))
    }

    /// Reads a `Content-Type` header value; `None` (no header) means protobuf, as go-micro's
    /// server assumes. An unknown type is a 415 error naming it and the types known.
    pub fn from_header(&self, value: Option<&str>) -> Result<ContentType, Error> {
        let Some(value) = value else {
            return Ok(ContentType::PROTOBUF);
        };
        self.get(value).ok_or_else(|| {
            let known: Vec<&str> = self.known.iter().map(|ct| ct.as_str()).collect();
            Error::unsupported_media_type(format!(
                "unsupported Content-Type: {value} (this server speaks {})",
                known.join(", ")
            ))
            .with_id(SERVER_ID)
        })
    }

    /// Every known content type.
    pub fn iter(&self) -> impl Iterator<Item = ContentType> + '_ {
        self.known.iter().copied()
    }
}
