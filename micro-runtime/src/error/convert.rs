//! `?` in handlers: conversions from the errors handlers commonly meet into wire errors.
//!
//! A handler's error travels to the caller, who may be another team or the internet, so these
//! conversions send a *safe* detail: the kind of failure (`i/o error: entity not found`), never
//! the error's own text, which can hold file paths, addresses or data. The full error is logged
//! here, where the operator sees it. Every conversion is a 500, except a `tokio::time::timeout`
//! that elapsed, which is a 408 as go-micro reports a deadline. The id is left empty, so the
//! server fills in its service name.

use super::Error;

impl Error {
    /// A 500 for any error: its text is logged here and not sent, the caller sees `detail`
    /// (`.map_err(|e| Error::internal(e, "cannot read the price list"))?`).
    pub fn internal(error: impl std::fmt::Display, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        tracing::error!(error = %error, %detail, "handler failed");
        Error::internal_server_error(detail)
    }
}

/// Implements `From<$ty> for Error` as [`Error::internal`] with a detail computed from the error.
macro_rules! hidden {
    ($($(#[$doc:meta])* $ty:ty => |$e:ident| $detail:expr;)*) => {$(
        $(#[$doc])*
        impl From<$ty> for Error {
            fn from($e: $ty) -> Self {
                let detail: String = $detail;
                Error::internal(&$e, detail)
            }
        }
    )*};
}

hidden! {
    /// A 500 naming the kind of i/o failure (`i/o error: permission denied`).
    std::io::Error => |e| format!("i/o error: {}", e.kind());
    /// A 500 naming the kind of JSON failure (syntax, data, end of input).
    serde_json::Error => |e| format!("JSON error: {}", match e.classify() {
        serde_json::error::Category::Io => "i/o",
        serde_json::error::Category::Syntax => "syntax",
        serde_json::error::Category::Data => "data",
        serde_json::error::Category::Eof => "unexpected end of input",
    });
    /// A 500: a protobuf message that did not decode.
    prost::DecodeError => |_e| "protobuf decode error".to_string();
    /// A 500: a protobuf message that did not encode.
    prost::EncodeError => |_e| "protobuf encode error".to_string();
    /// A 500: a number that did not parse.
    std::num::ParseIntError => |_e| "invalid integer".to_string();
    /// A 500: a number that did not parse.
    std::num::ParseFloatError => |_e| "invalid number".to_string();
    /// A 500: bytes that are not UTF-8.
    std::str::Utf8Error => |_e| "invalid UTF-8".to_string();
    /// A 500: bytes that are not UTF-8.
    std::string::FromUtf8Error => |_e| "invalid UTF-8".to_string();
    /// A 500: an address that did not parse.
    std::net::AddrParseError => |_e| "invalid address".to_string();
    /// A 500: a spawned task panicked or was cancelled.
    tokio::task::JoinError => |e| if e.is_panic() { "a task panicked" } else { "a task was cancelled" }.to_string();
    /// A 500: any boxed error, `Box<dyn Error + Send + Sync>` (what `anyhow::Error` and most error
    /// crates convert into).
    Box<dyn std::error::Error + Send + Sync> => |_e| "internal error".to_string();
}

impl From<tokio::time::error::Elapsed> for Error {
    /// A 408: a `tokio::time::timeout` in the handler elapsed.
    fn from(_: tokio::time::error::Elapsed) -> Self {
        Error::timeout("deadline exceeded")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handler_reading(path: &str) -> Result<String, Error> {
        Ok(std::fs::read_to_string(path)?)
    }

    #[test]
    fn question_mark_on_io_hides_the_path() {
        let err = handler_reading("/nonexistent/secret/path").unwrap_err();
        assert_eq!(err.code, 500);
        assert_eq!(err.status, "Internal Server Error");
        assert_eq!(err.detail, "i/o error: entity not found");
        assert!(err.id.is_empty(), "the server fills the id");
    }

    #[test]
    fn question_mark_on_parse_and_json_and_boxed() {
        let parse = || -> Result<u32, Error> { Ok("x1".parse::<u32>()?) };
        assert_eq!(parse().unwrap_err().detail, "invalid integer");
        let json = || -> Result<serde_json::Value, Error> { Ok(serde_json::from_str("{")?) };
        assert_eq!(
            json().unwrap_err().detail,
            "JSON error: unexpected end of input"
        );
        let boxed = || -> Result<(), Error> {
            let e: Box<dyn std::error::Error + Send + Sync> = "db password wrong".into();
            Err(e)?
        };
        let err = boxed().unwrap_err();
        assert_eq!((err.code, err.detail.as_str()), (500, "internal error"));
    }

    #[tokio::test(start_paused = true)]
    async fn an_elapsed_timeout_is_a_408() {
        let slow = async {
            tokio::time::timeout(
                std::time::Duration::from_millis(5),
                std::future::pending::<()>(),
            )
            .await?;
            Ok::<(), Error>(())
        };
        assert_eq!(slow.await.unwrap_err().code, 408);
    }
}
