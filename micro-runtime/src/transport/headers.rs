//! [`Headers`]: the header section of one frame.

use std::fmt;

/// The headers of one frame, in wire order and with their original spelling.
///
/// A small `Vec` rather than a map: frames carry about ten headers, a linear scan over them is
/// faster than hashing, and keeping the order and case lets a proxy forward headers untouched.
/// Lookups are ASCII case-insensitive, because Go canonicalises names (`Micro-ID` arrives as
/// `Micro-Id`) and other clients do not.
///
/// ```
/// use micro_runtime::transport::Headers;
///
/// let mut headers = Headers::new();
/// headers.insert("X-Micro-Endpoint", "Greeter.Hello");
/// headers.insert("content-type", "application/json");
/// assert_eq!(headers.get("Content-Type"), Some("application/json"));
/// assert_eq!(headers.get_micro("Micro-Endpoint"), Some("Greeter.Hello"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// No headers, with room for `n` without reallocating.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            entries: Vec::with_capacity(n),
        }
    }

    /// The value of the first header called `name` (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The values of every header called `name`, in wire order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A `Micro-*` header, also accepting its `X-Micro-*` alias.
    ///
    /// Follows go-micro's server `getHeader` for compatibility: the plain name wins, and an empty
    /// plain value counts as missing, so `X-Micro-Endpoint` is used when `Micro-Endpoint` is empty.
    pub fn get_micro(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(v) if !v.is_empty() => Some(v),
            plain => self.get_prefixed(name).or(plain),
        }
    }

    // `X-<name>` without allocating the prefixed name.
    fn get_prefixed(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| {
                n.len() == name.len() + 2
                    && n.as_bytes()[..2].eq_ignore_ascii_case(b"x-")
                    && n[2..].eq_ignore_ascii_case(name)
            })
            .map(|(_, v)| v.as_str())
    }

    /// Whether a header called `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets `name` to `value`, replacing every existing header of that name (case-insensitive).
    ///
    /// The header keeps the position of the first one it replaces, and takes the new spelling.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let (name, value) = (name.into(), value.into());
        match self.position(&name) {
            Some(i) => {
                self.entries[i] = (name, value);
                let key = self.entries[i].0.clone();
                let mut seen = 0;
                self.entries.retain(|(n, _)| {
                    let matches = n.eq_ignore_ascii_case(&key);
                    seen += usize::from(matches);
                    !matches || seen == 1
                });
            }
            None => self.entries.push((name, value)),
        }
    }

    /// Adds a header, keeping any existing ones of the same name.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.entries.push((name.into(), value.into()));
    }

    /// Removes every header called `name`, returning the first value.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        let first = self.position(name)?;
        let (_, value) = self.entries.remove(first);
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        Some(value)
    }

    /// All headers as `(name, value)`, in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// How many headers there are (duplicates count).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every header, keeping the allocation.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Headers {
    /// Collects pairs with [`Headers::append`] semantics (duplicates are kept).
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut headers = Headers::new();
        headers.extend(iter);
        headers
    }
}

impl<K: Into<String>, V: Into<String>> Extend<(K, V)> for Headers {
    /// Appends pairs (duplicates are kept).
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.append(k, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_ignore_ascii_case() {
        let headers: Headers = [("Micro-Id", "7")].into_iter().collect();
        assert_eq!(headers.get("MICRO-ID"), Some("7"));
        assert_eq!(headers.get("micro-id"), Some("7"));
        assert_eq!(headers.get("Micro-Idx"), None);
    }

    #[test]
    fn micro_headers_accept_the_x_alias_and_prefer_the_plain_name() {
        let mut headers: Headers = [("x-micro-endpoint", "A.B")].into_iter().collect();
        assert_eq!(headers.get_micro("Micro-Endpoint"), Some("A.B"));
        headers.append("Micro-Endpoint", "C.D");
        assert_eq!(headers.get_micro("Micro-Endpoint"), Some("C.D"));
        // An empty plain value falls back to the alias, as Go's getHeader does.
        headers.insert("Micro-Endpoint", "");
        assert_eq!(headers.get_micro("Micro-Endpoint"), Some("A.B"));
        let only_empty: Headers = [("Micro-Error", "")].into_iter().collect();
        assert_eq!(only_empty.get_micro("Micro-Error"), Some(""));
        assert_eq!(Headers::new().get_micro("Micro-Error"), None);
    }

    #[test]
    fn insert_replaces_every_spelling_in_place() {
        let mut headers: Headers = [
            ("A", "1"),
            ("content-type", "x"),
            ("B", "2"),
            ("CONTENT-TYPE", "y"),
        ]
        .into_iter()
        .collect();
        headers.insert("Content-Type", "application/json");
        let pairs: Vec<_> = headers.iter().collect();
        assert_eq!(
            pairs,
            [("A", "1"), ("Content-Type", "application/json"), ("B", "2")]
        );
    }

    #[test]
    fn remove_takes_every_spelling() {
        let mut headers: Headers = [("a", "1"), ("A", "2"), ("b", "3")].into_iter().collect();
        assert_eq!(headers.remove("A"), Some("1".to_string()));
        assert_eq!(headers.len(), 1);
        assert_eq!(headers.remove("A"), None);
        assert_eq!(headers.get_all("b").collect::<Vec<_>>(), ["3"]);
    }
}
