//! The generator's one error type.

use std::fmt;

/// Why code generation failed: bad input (editions, colliding endpoints, protoc's own
/// complaints) or an I/O failure, always with a message that names the offending file.
///
/// The message is meant to be shown to a person as is: build scripts print it when the
/// build fails and the protoc plugin puts it in the response's `error` field.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    /// Creates an error from a complete, human-readable message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The message, naming the file (and line:column where known).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    /// The message as written, not escaped: a build script whose `main` returns this error (or a
    /// `Box<dyn Error>` holding it) prints `Error: proto/x.proto:4:40: Expected ";".` readably.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    /// For build scripts whose `main` returns `std::io::Result`, as prost-build's do.
    fn from(error: Error) -> Self {
        std::io::Error::other(error.message)
    }
}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        Self::new(error.to_string())
    }
}
