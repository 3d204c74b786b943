//! Request metadata: the user headers that travel with a call and propagate from a handler's
//! context into the calls it makes.

use std::collections::HashMap;
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

/// A map of string keys to string values with ASCII case-insensitive keys, as HTTP headers.
///
/// Keys keep the case they were inserted with; lookups ignore case, so `user-id` finds `User-Id`.
/// Entries keep their insertion order; replacing a value keeps its place. Inserting is amortized
/// constant time, so building a map of `n` entries is linear: a map past a few dozen entries gets
/// an index by lowercased key (small maps, the usual case, are scanned, which is faster and
/// cheaper to clone).
#[derive(Clone, Default)]
pub struct Metadata {
    entries: Vec<(String, String)>,
    // Each entry's position in `entries` by its ASCII-lowercased key, once there are more than
    // `SCANNED` entries. Hashed with std's randomly keyed SipHash, so chosen keys cannot make it
    // slow.
    index: Option<HashMap<String, usize>>,
}

/// Up to this many entries a lookup scans them all; past it, the map builds its index.
const SCANNED: usize = 32;

impl Metadata {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value for `key`, compared without regard to ASCII case.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.position(key).map(|at| self.entries[at].1.as_str())
    }

    /// Sets `key` to `value`, replacing any value under the same key in another case.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let (key, value) = (key.into(), value.into());
        if let Some(at) = self.position(&key) {
            self.entries[at] = (key, value);
            return;
        }
        if let Some(index) = &mut self.index {
            index.insert(key.to_ascii_lowercase(), self.entries.len());
        }
        self.entries.push((key, value));
        if self.index.is_none() && self.entries.len() > SCANNED {
            self.index = Some(
                self.entries
                    .iter()
                    .enumerate()
                    .map(|(at, (k, _))| (k.to_ascii_lowercase(), at))
                    .collect(),
            );
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let at = self.position(key)?;
        if let Some(index) = &mut self.index {
            index.remove(&key.to_ascii_lowercase());
            // Linear, as `Vec::remove` already is: the entries after `at` move down one.
            for position in index.values_mut() {
                if *position > at {
                    *position -= 1;
                }
            }
        }
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

    /// Where the entry for `key` is in `entries`, compared without regard to ASCII case.
    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) if key.bytes().any(|b| b.is_ascii_uppercase()) => {
                index.get(&key.to_ascii_lowercase()).copied()
            }
            Some(index) => index.get(key).copied(),
            None => self
                .entries
                .iter()
                .position(|(k, _)| k.eq_ignore_ascii_case(key)),
        }
    }
}

// Two maps are equal when they hold the same entries in the same order; the index follows from
// the entries.
impl PartialEq for Metadata {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl Eq for Metadata {}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let mut md = Metadata::new();
        md.entries.reserve(iter.size_hint().0);
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

    /// The map a naive scan gives, to check the indexed map against.
    #[derive(Default)]
    struct Model(Vec<(String, String)>);

    impl Model {
        fn insert(&mut self, key: &str, value: &str) {
            match self.0.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
                Some(entry) => *entry = (key.into(), value.into()),
                None => self.0.push((key.into(), value.into())),
            }
        }

        fn remove(&mut self, key: &str) -> Option<String> {
            let at = self
                .0
                .iter()
                .position(|(k, _)| k.eq_ignore_ascii_case(key))?;
            Some(self.0.remove(at).1)
        }
    }

    #[test]
    fn an_indexed_map_behaves_as_a_scanned_one() {
        // Random inserts, replacements in another case and removals, across the size where the
        // index is built, checked against a naive scan after every step.
        let mut rng = fastrand::Rng::with_seed(7);
        let (mut md, mut model) = (Metadata::new(), Model::default());
        for step in 0..3000 {
            let mut key = format!("Key-{}", rng.usize(0..80));
            if rng.bool() {
                key = key.to_ascii_uppercase();
            }
            if rng.usize(0..4) == 0 {
                assert_eq!(md.remove(&key), model.remove(&key), "step {step}");
            } else {
                let value = step.to_string();
                md.insert(key.as_str(), value.as_str());
                model.insert(&key, &value);
            }
            let entries: Vec<_> = md
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(entries, model.0, "step {step}");
            let probe = format!("key-{}", rng.usize(0..80));
            let expected = model.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(&probe));
            assert_eq!(
                md.get(&probe),
                expected.map(|(_, v)| v.as_str()),
                "step {step}"
            );
        }
        assert!(md.index.is_some(), "the map grew past the scanned size");
    }

    #[test]
    fn two_hundred_thousand_headers_build_into_one_map() {
        // The HTTP broker finding: 200k distinct headers took seconds when every insert scanned
        // the map. The time is measured by `build_time` below, not asserted here.
        let n = 200_000;
        let md: Metadata = (0..n)
            .map(|i| (format!("Header-{i}"), i.to_string()))
            .collect();
        assert_eq!(md.len(), n);
        assert_eq!(md.get("HEADER-0"), Some("0"));
        assert_eq!(md.get("header-199999"), Some("199999"));
        assert_eq!(md.get("header-200000"), None);
        assert!(
            md.iter()
                .enumerate()
                .all(|(i, (k, _))| k == format!("Header-{i}"))
        );

        // Repeats in another case replace in place; the last one wins, as before.
        let md: Metadata = (0..n)
            .map(|i| (format!("header-{}", i % 1000), i.to_string()))
            .chain([("HEADER-7".to_string(), "last".to_string())])
            .collect();
        assert_eq!(md.len(), 1000);
        assert_eq!(md.iter().nth(7), Some(("HEADER-7", "last")));
        assert_eq!(md.get("header-999"), Some("199999"));
    }

    /// Prints how long building a map of 100k and of 200k distinct headers takes; linear
    /// insertion takes about twice as long for twice as many. Run it in a release build:
    /// `cargo test --release -p micro-runtime --lib metadata::tests::build_time -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement, not a test"]
    fn build_time() {
        for n in [100_000, 200_000] {
            let headers: Vec<_> = (0..n)
                .map(|i| (format!("Header-{i}"), "v".to_string()))
                .collect();
            let started = std::time::Instant::now();
            let md: Metadata = headers.into_iter().collect();
            println!(
                "{n} headers: {:?} ({} entries)",
                started.elapsed(),
                md.len()
            );
        }
        // The scan every insert used to do, for comparison (quadratic: fewer headers, or it runs
        // for minutes).
        for n in [20_000, 40_000] {
            let started = std::time::Instant::now();
            let mut model = Model::default();
            for i in 0..n {
                model.insert(&format!("Header-{i}"), "v");
            }
            println!("{n} headers, scanning: {:?}", started.elapsed());
        }
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
