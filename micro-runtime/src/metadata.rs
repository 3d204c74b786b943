//! Request metadata: the user headers that travel with a call and propagate from a handler's
//! context into the calls it makes.

use std::fmt;

/// Header names the framework owns; they are never treated as user metadata.
///
/// go-micro copies *every* incoming header into the handler's context, so a handler that passes its
/// context on forwards `Content-Length`, `Micro-Stream` and the rest to the next hop. micro keeps
/// only user metadata.
const RESERVED: &[&str] = &[
    "content-length",
    "content-type",
    "accept",
    "host",
    "user-agent",
    "connection",
    "expect",
    "transfer-encoding",
    "timeout",
    "micro-service",
    "micro-endpoint",
    "micro-method",
    "micro-id",
    "micro-stream",
    "micro-error",
    "micro-topic",
    "micro-protocol",
    "micro-target",
];

/// Whether a header is the framework's own (`Content-Type`, `Micro-*`, `Timeout`, ...) rather than
/// user metadata. `X-Micro-*` aliases count as the framework's too.
pub fn is_reserved(name: &str) -> bool {
    let name = name
        .strip_prefix("X-")
        .or_else(|| name.strip_prefix("x-"))
        .unwrap_or(name);
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name))
}

/// A small map of string keys to string values with ASCII case-insensitive keys, as HTTP headers.
///
/// Keys keep the case they were inserted with; lookups ignore case, so `user-id` finds `User-Id`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    entries: Vec<(String, String)>,
}

impl Metadata {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value for `key`, compared without regard to ASCII case.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// Sets `key` to `value`, replacing any value under the same key in another case.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let (key, value) = (key.into(), value.into());
        match self
            .entries
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(&key))
        {
            Some(entry) => *entry = (key, value),
            None => self.entries.push((key, value)),
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let at = self
            .entries
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case(key))?;
        Some(self.entries.remove(at).1)
    }

    /// Every entry, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds every entry of `other`, replacing entries with the same key.
    pub fn extend(&mut self, other: &Metadata) {
        for (k, v) in other.iter() {
            self.insert(k, v);
        }
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut md = Metadata::new();
        for (k, v) in iter {
            md.insert(k, v);
        }
        md
    }
}

/// Checks that a metadata entry can travel as an HTTP header: a token name and a value without
/// control characters (a CR or LF would let a caller inject headers).
pub(crate) fn valid_header(name: &str, value: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        && value
            .bytes()
            .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive() {
        let mut md = Metadata::new();
        md.insert("User-Id", "1");
        md.insert("user-id", "2");
        assert_eq!(md.len(), 1);
        assert_eq!(md.get("USER-ID"), Some("2"));
        assert_eq!(md.remove("User-id"), Some("2".into()));
        assert!(md.is_empty());
    }

    #[test]
    fn reserved_headers_include_x_aliases() {
        assert!(is_reserved("Micro-Endpoint"));
        assert!(is_reserved("X-Micro-Endpoint"));
        assert!(is_reserved("content-length"));
        assert!(!is_reserved("X-Request-Id"));
    }

    #[test]
    fn header_injection_is_refused() {
        assert!(valid_header("Trace-Id", "abc"));
        assert!(!valid_header("Trace-Id", "abc\r\nEvil: 1"));
        assert!(!valid_header("Bad Name", "x"));
    }
}
