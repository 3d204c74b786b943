//! The two error types of micro.
//!
//! [`Error`] is the *wire* error: what a handler returns and what a caller receives, encoded as go-micro
//! encodes it (`{"id","code","detail","status"}` in the `Micro-Error` header), so Go and Rust services
//! understand each other's errors. [`LocalError`] is for failures that never cross the wire: binding a
//! port, bad configuration, an unreachable registry.

use std::fmt;

use serde::{Deserialize, Serialize};

mod convert;
mod status;

pub use status::status_text;

/// An error as it travels between services: go-micro's `errors.Error`.
///
/// `id` names who produced it (a service name, or `go.micro.client` / `go.micro.server` for the
/// framework's own errors, as go-micro spells them), `code` is an HTTP-like status code, `detail` a
/// human-readable message and `status` the code's reason phrase.
///
/// ```
/// use micro_runtime::Error;
///
/// let err = Error::bad_request("name must not be empty").with_id("greeter");
/// assert_eq!(err.code, 400);
/// assert_eq!(err.status, "Bad Request");
/// assert_eq!(
///     err.to_json(),
///     r#"{"id":"greeter","code":400,"detail":"name must not be empty","status":"Bad Request"}"#
/// );
/// assert_eq!(Error::parse(&err.to_json()), err);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    /// Who produced the error: a service name, or `go.micro.client` / `go.micro.server`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// An HTTP-like status code (400, 404, 408, 500, ...); 0 when unknown.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub code: i32,
    /// What went wrong, for humans.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The reason phrase of `code` ("Bad Request", ...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
}

// go-micro's errors.proto marks every field `omitempty`.
fn is_zero(code: &i32) -> bool {
    *code == 0
}

/// The id micro's client puts on errors it produces itself (go-micro's spelling, for compatibility).
pub const CLIENT_ID: &str = "go.micro.client";
/// The id micro's server puts on errors it produces itself (go-micro's spelling, for compatibility).
pub const SERVER_ID: &str = "go.micro.server";

macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident => $code:expr;)*) => {
        $(
            $(#[$doc])*
            ///
            /// The id is left empty: a server fills it with its service name when the error leaves
            /// a handler. Set one with [`with_id`](Self::with_id).
            pub fn $name(detail: impl Into<String>) -> Self {
                Self::new("", detail, $code)
            }
        )*
    };
}

impl Error {
    /// An error with the given id, detail and code; `status` is the code's reason phrase.
    pub fn new(id: impl Into<String>, detail: impl Into<String>, code: i32) -> Self {
        Self {
            id: id.into(),
            code,
            detail: detail.into(),
            status: status_text(code).to_string(),
        }
    }

    /// The same error produced by `id` (a service name, or `go.micro.client`).
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    constructors! {
        /// 400 Bad Request: the caller sent something invalid.
        bad_request => 400;
        /// 401 Unauthorized.
        unauthorized => 401;
        /// 403 Forbidden.
        forbidden => 403;
        /// 404 Not Found: unknown service, endpoint or entity.
        not_found => 404;
        /// 405 Method Not Allowed.
        method_not_allowed => 405;
        /// 408 Request Timeout: the deadline passed (go-micro's `errors.Timeout`).
        timeout => 408;
        /// 409 Conflict.
        conflict => 409;
        /// 413 Payload Too Large: a message over the size limit.
        payload_too_large => 413;
        /// 415 Unsupported Media Type: an unknown Content-Type.
        unsupported_media_type => 415;
        /// 429 Too Many Requests: a rate limit refused the call.
        too_many_requests => 429;
        /// 500 Internal Server Error.
        internal_server_error => 500;
        /// 501 Not Implemented.
        not_implemented => 501;
        /// 502 Bad Gateway: a service this one called failed.
        bad_gateway => 502;
        /// 503 Service Unavailable: no node could take the call, the server is shutting down, or
        /// it is overloaded.
        unavailable => 503;
        /// 504 Gateway Timeout: a service this one called did not answer in time.
        gateway_timeout => 504;
    }

    /// Reads an error from its wire form.
    ///
    /// As go-micro's `errors.Parse`: JSON gives the full error; anything else (go-micro's router
    /// sends plain strings such as `rpc: can't find method Foo`) becomes the detail, with code 0.
    pub fn parse(text: &str) -> Self {
        match serde_json::from_str::<Error>(text) {
            Ok(err) => err,
            Err(_) => Self {
                detail: text.to_string(),
                ..Self::default()
            },
        }
    }

    /// The form that goes in a `Micro-Error` header: the JSON, with a detail longer than 8 KiB cut
    /// short so the header stays well inside every peer's header limit (micro's is 16 KiB), and
    /// DEL escaped as `\u007f` (JSON escapes the other control characters itself), so a detail
    /// quoting a client's bytes cannot make the header unreadable.
    pub fn to_header_value(&self) -> String {
        const MAX_DETAIL: usize = 8 * 1024;
        if self.detail.len() <= MAX_DETAIL {
            return escape_del(self.to_json());
        }
        let mut cut = MAX_DETAIL;
        while !self.detail.is_char_boundary(cut) {
            cut -= 1;
        }
        let detail = format!(
            "{}... ({} bytes cut)",
            &self.detail[..cut],
            self.detail.len() - cut
        );
        escape_del(
            Error {
                detail,
                ..self.clone()
            }
            .to_json(),
        )
    }

    /// The wire form: compact JSON with go-micro's field names.
    pub fn to_json(&self) -> String {
        // Serializing four plain fields cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// JSON with DEL, which appears only inside its strings, written as the escape `\u007f`.
fn escape_del(json: String) -> String {
    if json.contains('\u{7f}') {
        json.replace('\u{7f}', "\\u007f")
    } else {
        json
    }
}

impl fmt::Display for Error {
    /// Displays the JSON form, as go-micro's `Error()` does, so logs read the same on both sides.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

impl std::error::Error for Error {}

/// A failure that happens locally and never crosses the wire: binding a listener, bad configuration,
/// an unreachable registry or broker.
///
/// Opaque on purpose (as tonic's transport error): match on [`LocalError::kind`], and read the
/// message with `Display`, which ends with the cause (`cannot reach etcd at …: connection
/// refused`), so one line in a log says everything. For the same reason
/// [`std::error::Error::source`] returns `None` (otherwise `anyhow` and other reporters print each
/// cause twice); [`LocalError::cause`] gives the cause itself.
#[derive(Debug)]
pub struct LocalError {
    kind: LocalErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// What kind of local failure a [`LocalError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalErrorKind {
    /// A listener could not be bound (port busy, bad address, empty port range).
    Bind,
    /// A configuration value is invalid (an environment variable, a builder option).
    Config,
    /// The registry failed or could not be reached.
    Registry,
    /// A network or I/O failure.
    Io,
    /// The broker failed or could not be reached, or refused a message.
    Broker,
}

impl LocalError {
    /// A new error of the given kind.
    pub fn new(kind: LocalErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> LocalErrorKind {
        self.kind
    }

    /// The underlying cause, already part of the `Display` text.
    pub fn cause(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.source.as_deref()
    }
}

impl fmt::Display for LocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        // The whole chain of causes, skipping a link whose text the previous one already holds
        // (many errors print their own cause).
        let mut shown = String::new();
        let mut next = self.source.as_deref().map(|e| e as &dyn std::error::Error);
        while let Some(cause) = next {
            let text = cause.to_string();
            if !shown.contains(&text) {
                write!(f, ": {text}")?;
            }
            shown = text;
            next = cause.source();
        }
        Ok(())
    }
}

// `source` stays `None`: `Display` already ends with the cause (see the type's docs).
impl std::error::Error for LocalError {}

impl From<LocalError> for Error {
    /// A local failure seen by a caller: a 500 from the client.
    fn from(err: LocalError) -> Self {
        Error::internal_server_error(err.to_string()).with_id(CLIENT_ID)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_value_holds_no_control_character_and_reads_back_the_same() {
        let err = Error::bad_request("field \"a\u{7f}b\u{1}\tc\u{88}\" is unknown").with_id("svc");
        let header = err.to_header_value();
        assert!(
            !header.bytes().any(|b| (b < 0x20) || b == 0x7f),
            "{header:?}"
        );
        assert_eq!(Error::parse(&header), err);
    }

    #[test]
    fn parses_go_micro_json_and_plain_strings() {
        let err = Error::parse(
            r#"{"id":"go.micro.client","code":408,"detail":"call timeout","status":"Request Timeout"}"#,
        );
        assert_eq!(err.code, 408);
        assert_eq!(err.id, "go.micro.client");
        let plain = Error::parse("rpc: can't find method Foo");
        assert_eq!(plain.code, 0);
        assert_eq!(plain.detail, "rpc: can't find method Foo");
    }

    #[test]
    fn an_empty_error_round_trips() {
        assert_eq!(Error::parse(&Error::default().to_json()), Error::default());
    }

    #[test]
    fn long_details_are_cut_for_headers() {
        let err = Error::internal_server_error("é".repeat(10_000)).with_id("svc");
        let header = err.to_header_value();
        assert!(header.len() < 9 * 1024, "{}", header.len());
        let back = Error::parse(&header);
        assert_eq!((back.code, back.id.as_str()), (500, "svc"));
        assert!(
            back.detail.ends_with("bytes cut)"),
            "{}",
            &back.detail[back.detail.len() - 30..]
        );
    }

    #[test]
    fn a_local_error_reads_as_one_line_with_its_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let err = LocalError::new(LocalErrorKind::Broker, "cannot reach NATS at nats://h:1")
            .with_source(io);
        assert_eq!(
            err.to_string(),
            "cannot reach NATS at nats://h:1: connection refused"
        );
        assert!(
            std::error::Error::source(&err).is_none(),
            "no cause printed twice"
        );
        assert_eq!(err.cause().unwrap().to_string(), "connection refused");

        // Causes of causes are shown too, each once.
        let outer =
            LocalError::new(LocalErrorKind::Broker, "cannot subscribe to orders").with_source(err);
        assert_eq!(
            outer.to_string(),
            "cannot subscribe to orders: cannot reach NATS at nats://h:1: connection refused"
        );
    }

    #[test]
    fn omits_empty_fields_like_go() {
        let err = Error {
            detail: "x".into(),
            ..Error::default()
        };
        assert_eq!(err.to_json(), r#"{"detail":"x"}"#);
    }
}
