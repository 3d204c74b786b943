//! `google.api.http` path templates: `/v1/users/{id}`, `/v1/{name=shelves/*}/books/*`,
//! `/v1/files/{path=**}`, `/v1/items:batchGet`. Parsed once when the routes are read from the
//! registry, matched against each request's path; a variable's segments are its value.
//!
//! The grammar (from google/api/http.proto):
//! ```text
//! Template = "/" Segments [ Verb ] ;
//! Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;
//! Verb     = ":" LITERAL ;
//! ```

use std::borrow::Cow;

/// A parsed path template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
    /// The field path of each variable, by index.
    variables: Vec<String>,
    verb: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(String, Option<usize>),
    /// One segment.
    Any(Option<usize>),
    /// Any number of segments, the rest of the path.
    Rest(Option<usize>),
}

impl Template {
    /// Parses `text`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let body = text
            .strip_prefix('/')
            .ok_or_else(|| format!("{text:?} does not start with /"))?;
        let mut template = Template {
            pieces: Vec::new(),
            variables: Vec::new(),
            verb: None,
        };
        let mut rest = body;
        while !rest.is_empty() {
            if let Some(inner) = rest.strip_prefix('{') {
                let close = inner
                    .find('}')
                    .ok_or_else(|| format!("{text:?} has a {{ without its }}"))?;
                let (field, pattern) = match inner[..close].split_once('=') {
                    Some((field, pattern)) => (field.trim(), pattern),
                    None => (inner[..close].trim(), "*"),
                };
                if field.is_empty() {
                    return Err(format!("{text:?} has a variable with no field"));
                }
                let index = template.variables.len();
                template.variables.push(field.to_string());
                for segment in pattern.split('/') {
                    template.pieces.push(piece(segment, Some(index), text)?);
                }
                rest = &inner[close + 1..];
            } else {
                let end = rest.find(['/', ':']).unwrap_or(rest.len());
                template.pieces.push(piece(&rest[..end], None, text)?);
                rest = &rest[end..];
            }
            if let Some(verb) = rest.strip_prefix(':') {
                if verb.is_empty() || verb.contains('/') {
                    return Err(format!("{text:?} has a malformed :verb"));
                }
                template.verb = Some(verb.to_string());
                break;
            }
            rest = match rest.strip_prefix('/') {
                Some("") => return Err(format!("{text:?} ends with /")),
                Some(more) => more,
                None if rest.is_empty() => rest,
                None => return Err(format!("{text:?} is malformed at {rest:?}")),
            };
        }
        let rests = template
            .pieces
            .iter()
            .filter(|p| matches!(p, Piece::Rest(_)))
            .count();
        if rests > 1 || (rests == 1 && !matches!(template.pieces.last(), Some(Piece::Rest(_)))) {
            return Err(format!("{text:?}: ** may only be the last segment"));
        }
        Ok(template)
    }

    /// How specific the template is: literal segments count most, so `/v1/items:batch` and
    /// `/v1/items/latest` are tried before `/v1/items/{id}`.
    pub fn specificity(&self) -> (usize, usize, bool) {
        let literals = self
            .pieces
            .iter()
            .filter(|p| matches!(p, Piece::Literal(..)))
            .count();
        // A `:verb` is a literal too: `/v1/items/{id}:history` before `/v1/items/{id}`, whose
        // variable would otherwise take `7:history` whole.
        let verb = usize::from(self.verb.is_some());
        let rest = matches!(self.pieces.last(), Some(Piece::Rest(_)));
        (literals + verb, self.pieces.len(), !rest)
    }

    /// The variables' (field, value) pairs if `path` matches, values percent-decoded.
    pub fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        let mut path = path.strip_prefix('/')?;
        if let Some(verb) = &self.verb {
            path = path.strip_suffix(verb.as_str())?.strip_suffix(':')?;
        }
        let segments: Vec<&str> = if path.is_empty() {
            Vec::new()
        } else {
            path.split('/').collect()
        };
        let mut values: Vec<Vec<&str>> = vec![Vec::new(); self.variables.len()];
        let mut at = 0;
        for piece in &self.pieces {
            match piece {
                Piece::Literal(literal, variable) => {
                    let segment = segments.get(at)?;
                    if decode(segment) != literal.as_str() {
                        return None;
                    }
                    if let Some(v) = variable {
                        values[*v].push(segment);
                    }
                    at += 1;
                }
                Piece::Any(variable) => {
                    let segment = segments.get(at).filter(|s| !s.is_empty())?;
                    if let Some(v) = variable {
                        values[*v].push(segment);
                    }
                    at += 1;
                }
                Piece::Rest(variable) => {
                    if let Some(v) = variable {
                        values[*v].extend(&segments[at.min(segments.len())..]);
                    }
                    at = segments.len();
                }
            }
        }
        if at != segments.len() {
            return None;
        }
        Some(
            self.variables
                .iter()
                .zip(values)
                .map(|(field, parts)| {
                    let value: Vec<Cow<'_, str>> = parts.iter().map(|p| decode(p)).collect();
                    (field.clone(), value.join("/"))
                })
                .collect(),
        )
    }
}

fn piece(segment: &str, variable: Option<usize>, text: &str) -> Result<Piece, String> {
    match segment {
        "" => Err(format!("{text:?} has an empty segment")),
        "*" => Ok(Piece::Any(variable)),
        "**" => Ok(Piece::Rest(variable)),
        literal if literal.contains(['{', '}', '*']) => {
            Err(format!("{text:?} has a malformed segment {literal:?}"))
        }
        literal => Ok(Piece::Literal(literal.to_string(), variable)),
    }
}

/// A path segment percent-decoded (invalid UTF-8 replaced).
fn decode(segment: &str) -> Cow<'_, str> {
    if !segment.contains('%') {
        return Cow::Borrowed(segment);
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap() * 16 + hex(l).unwrap()) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(template: &str, path: &str) -> Option<Vec<(String, String)>> {
        Template::parse(template).unwrap().matches(path)
    }

    fn pairs(list: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(
            list.iter()
                .map(|(f, v)| (f.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn variables_take_their_segments() {
        assert_eq!(vars("/v1/users/{id}", "/v1/users/7"), pairs(&[("id", "7")]));
        assert_eq!(vars("/v1/users/{id}", "/v1/users"), None);
        assert_eq!(vars("/v1/users/{id}", "/v1/users/7/x"), None);
        assert_eq!(vars("/v1/users/{id}", "/v1/users/"), None);
        assert_eq!(
            vars(
                "/v1/{name=shelves/*}/books/{book.id}",
                "/v1/shelves/s1/books/b%202"
            ),
            pairs(&[("name", "shelves/s1"), ("book.id", "b 2")])
        );
        assert_eq!(
            vars("/v1/files/{path=**}", "/v1/files/a/b/c.txt"),
            pairs(&[("path", "a/b/c.txt")])
        );
        assert_eq!(vars("/v1/items", "/v1/items"), pairs(&[]));
        assert_eq!(vars("/v1/*/items", "/v1/x/items"), pairs(&[]));
    }

    #[test]
    fn verbs_end_the_path() {
        assert_eq!(vars("/v1/items:get", "/v1/items:get"), pairs(&[]));
        assert_eq!(vars("/v1/items:get", "/v1/items"), None);
        assert_eq!(
            vars("/v1/items/{id}:undelete", "/v1/items/9:undelete"),
            pairs(&[("id", "9")])
        );
    }

    #[test]
    fn malformed_templates_are_refused() {
        for bad in [
            "v1/items", "/v1/{id", "/v1/{}", "/v1//x", "/v1/**/x", "/v1/a*b", "/v1/",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn literals_are_more_specific_than_variables() {
        let latest = Template::parse("/v1/items/latest").unwrap();
        let by_id = Template::parse("/v1/items/{id}").unwrap();
        let history = Template::parse("/v1/items/{id}:history").unwrap();
        assert!(latest.specificity() > by_id.specificity());
        assert!(history.specificity() > by_id.specificity());
    }
}
