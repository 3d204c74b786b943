//! go-micro's legacy codecs, json-rpc and proto-rpc: the body is an envelope carrying the
//! endpoint, the request id and (in replies) the error, around the message itself.
//!
//! go-micro's server still speaks them (server/rpc_codec.go `setupProtocol`), and its clients
//! fall back to them for a node registered without `protocol=mucp`. The server picks them:
//!
//! | request | codec |
//! |---|---|
//! | `Content-Type: application/json-rpc` | json-rpc, always |
//! | `Content-Type: application/proto-rpc` | proto-rpc, always |
//! | no `Micro-Service`, `Micro-Method`, `Micro-Endpoint` (nor `Micro-Protocol`, `Micro-Topic`), or a `Micro-Target` | by Content-Type: `application/json` → json-rpc; `application/protobuf`, `application/octet-stream` or none → proto-rpc |
//!
//! The message inside is JSON for json-rpc and protobuf for proto-rpc, and goes to the endpoint
//! as a body of that type would. Replies are always HTTP 200 with the reply envelope as the body;
//! errors carry go-micro's texts with id `""` (seq 0), as go-micro writes them.
//!
//! Differs from go-micro: the json-rpc message is read and written with micro's proto3 JSON
//! mapping, where go-micro uses Go's `encoding/json` on the generated struct (proto field names,
//! 64-bit integers as numbers, unknown fields ignored); the two agree on plain string messages.
//! Only unary endpoints are served this way.
//!
//! - [`json_rpc`]: the json-rpc envelope; [`go_text`]: the Go text formats it depends on.
//! - [`proto_rpc`]: the proto-rpc netstrings and envelope messages.

mod go_text;
mod json_rpc;
mod proto_rpc;
mod serve;

pub(super) use serve::serve;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use super::router::{Route, Router, UnaryRoute};
use super::routing::Routing;
use crate::codec::ContentType;
use crate::transport::Headers;

/// Which legacy envelope a request uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LegacyCodec {
    /// `application/json-rpc`: a JSON-RPC 1.0 object around a JSON message.
    JsonRpc,
    /// `application/proto-rpc`: two netstrings, an envelope message and the protobuf message.
    ProtoRpc,
}

impl LegacyCodec {
    /// Whether a request frame speaks a legacy envelope, and which: go-micro's `setupProtocol`.
    #[cfg(test)]
    pub(crate) fn detect(headers: &Headers) -> Option<Self> {
        Self::from_routing(&Routing::read(headers))
    }

    /// [`Self::detect`] from the routing headers the server has already read.
    pub(crate) fn from_routing(routing: &Routing<'_>) -> Option<Self> {
        // No Content-Type is protobuf, as go-micro's server assumes before it looks.
        let media = routing.content_type.map_or("application/protobuf", |v| {
            v.split(';').next().unwrap_or("").trim()
        });
        let is = |name: &str| media.eq_ignore_ascii_case(name);
        let ends_rpc = media.len() > 4
            && media
                .get(media.len() - 4..)
                .is_some_and(|end| end.eq_ignore_ascii_case("-rpc"));
        if ends_rpc {
            if is("application/json-rpc") {
                return Some(LegacyCodec::JsonRpc);
            }
            if is("application/proto-rpc") {
                return Some(LegacyCodec::ProtoRpc);
            }
        }
        if routing.protocol.is_set() || routing.topic.is_set() {
            return None;
        }
        let routed =
            routing.service.is_set() || routing.method.is_set() || routing.endpoint.is_set();
        if routed && !routing.target.is_set() {
            return None;
        }
        if is("application/json") {
            Some(LegacyCodec::JsonRpc)
        } else if is("application/protobuf") || is("application/octet-stream") {
            Some(LegacyCodec::ProtoRpc)
        } else {
            None
        }
    }

    /// The codec's name in errors: `json-rpc` or `proto-rpc`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            LegacyCodec::JsonRpc => "json-rpc",
            LegacyCodec::ProtoRpc => "proto-rpc",
        }
    }

    /// How the message inside the envelope is encoded.
    pub(crate) fn message_type(self) -> ContentType {
        match self {
            LegacyCodec::JsonRpc => ContentType::JSON,
            LegacyCodec::ProtoRpc => ContentType::PROTOBUF,
        }
    }

    /// Reads a request's envelope. `limit` bounds proto-rpc's netstring lengths (the message limit).
    ///
    /// The endpoint is the frame's `Micro-Endpoint` or `Micro-Method` header if it has one, else
    /// the envelope's method, as go-micro's `getHeaders` and codec leave it; the id is the envelope's.
    pub(crate) fn decode(
        self,
        headers: &Headers,
        body: &Bytes,
        limit: usize,
    ) -> Result<LegacyRequest, LegacyError> {
        let (method, id, inner) = match self {
            LegacyCodec::JsonRpc => {
                let request = json_rpc::Request::decode(body)?;
                (
                    request.method.clone(),
                    request.id.clone(),
                    Inner::Json(request),
                )
            }
            LegacyCodec::ProtoRpc => {
                let request = proto_rpc::Request::decode(body, limit)?;
                (
                    request.method.clone(),
                    request.id.clone(),
                    Inner::Proto(request),
                )
            }
        };
        let header = |name| headers.get_micro(name).filter(|v| !v.is_empty());
        let endpoint = header("Micro-Endpoint")
            .or_else(|| header("Micro-Method"))
            .map_or(method, str::to_string);
        Ok(LegacyRequest {
            endpoint,
            id,
            inner,
        })
    }

    /// A successful reply: the envelope with the request's id around the encoded `message`.
    pub(crate) fn encode_reply(self, id: &str, message: &[u8]) -> Bytes {
        match self {
            LegacyCodec::JsonRpc => json_rpc::encode_response(id, Some(message), ""),
            LegacyCodec::ProtoRpc => proto_rpc::encode_response(id, message, ""),
        }
    }

    /// An error reply as go-micro's `serveReq` writes one: id `""` (seq 0), no message, the text.
    pub(crate) fn encode_error(self, error: &str) -> Bytes {
        match self {
            LegacyCodec::JsonRpc => json_rpc::encode_response("", None, error),
            LegacyCodec::ProtoRpc => proto_rpc::encode_response("", &[], error),
        }
    }

    /// The headers of a reply: the request's Content-Type echoed (go-micro sets the request's on
    /// every reply with a body), `Micro-Id` when there is one, `Micro-Error` on errors.
    pub(crate) fn reply_headers(request: &Headers, id: &str, error: Option<&str>) -> Headers {
        let mut headers = Headers::with_capacity(3);
        let content_type = request
            .get("Content-Type")
            .unwrap_or("application/protobuf");
        headers.insert("Content-Type", content_type);
        if !id.is_empty() {
            headers.insert("Micro-Id", id);
        }
        if let Some(error) = error {
            headers.insert("Micro-Error", error);
        }
        headers
    }
}

/// A request's envelope, read; its message is read by [`LegacyRequest::into_message`] after
/// routing, in go-micro's order (so a bad message never hides an unknown endpoint).
#[derive(Debug)]
pub(crate) struct LegacyRequest {
    /// The endpoint to call, `Service.Method` unless ill-formed.
    pub(crate) endpoint: String,
    /// The request id as go-micro formats it; the reply carries it back.
    pub(crate) id: String,
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Json(json_rpc::Request),
    Proto(proto_rpc::Request),
}

impl LegacyRequest {
    /// The unary endpoint to call, or go-micro's router error (`Service.Method` split on `.` must
    /// give exactly two parts).
    pub(crate) fn route(&self, router: &Router) -> Result<Arc<dyn UnaryRoute>, LegacyError> {
        let endpoint = self.endpoint.as_str();
        let mut parts = endpoint.split('.');
        let (Some(service), Some(method), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(LegacyError::IllFormed(endpoint.to_string()));
        };
        match router.route(endpoint) {
            Some(Route::Unary(route)) => Ok(Arc::clone(route)),
            Some(Route::Stream(_)) => Err(LegacyError::Stream(endpoint.to_string())),
            None if router.knows_service(service) => {
                Err(LegacyError::UnknownMethod(method.to_string()))
            }
            None => Err(LegacyError::UnknownService(service.to_string())),
        }
    }

    /// The message inside the envelope, encoded as [`LegacyCodec::message_type`] says.
    pub(crate) fn into_message(self) -> Result<Bytes, LegacyError> {
        match self.inner {
            Inner::Json(request) => request.into_message(),
            Inner::Proto(request) => request.into_message(),
        }
    }
}

/// Why a legacy request could not be served. Displays go-micro's text where go-micro has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LegacyError {
    /// The envelope (or, read later, the message part of it) is not what the codec expects.
    Decode { codec: LegacyCodec, why: String },
    /// A proto-rpc netstring ends before the length it announces.
    Truncated {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// A proto-rpc netstring announces more than the message limit.
    TooLarge {
        what: &'static str,
        length: usize,
        limit: usize,
    },
    /// The endpoint is not `Service.Method`.
    IllFormed(String),
    /// No endpoint of that service.
    UnknownService(String),
    /// The service has no such method.
    UnknownMethod(String),
    /// The endpoint streams; the legacy codecs serve unary calls only.
    Stream(String),
}

impl fmt::Display for LegacyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DECODE: &str = "rpc: router cannot decode request";
        match self {
            LegacyError::Decode { codec, why } => write!(f, "{DECODE}: {}: {why}", codec.name()),
            LegacyError::Truncated {
                what,
                expected,
                got,
            } => write!(
                f,
                "{DECODE}: proto-rpc: the {what} netstring is cut short: {got} bytes where at least {expected} were expected"
            ),
            LegacyError::TooLarge {
                what,
                length,
                limit,
            } => write!(
                f,
                "{DECODE}: proto-rpc: the {what} netstring announces {length} bytes, over the message limit of {limit} bytes"
            ),
            LegacyError::IllFormed(endpoint) => {
                write!(f, "rpc: service/endpoint request ill-formed: {endpoint}")
            }
            LegacyError::UnknownService(service) => write!(f, "rpc: can't find service {service}"),
            LegacyError::UnknownMethod(method) => write!(f, "rpc: can't find method {method}"),
            LegacyError::Stream(endpoint) => write!(
                f,
                "rpc: {endpoint} is a streaming endpoint: the legacy json-rpc and proto-rpc codecs serve unary calls only"
            ),
        }
    }
}

impl std::error::Error for LegacyError {}

#[cfg(test)]
mod tests;
