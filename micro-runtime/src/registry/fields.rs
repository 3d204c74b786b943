//! Requests built from named text values (`name=John`, `address.city=Paris`, `tags=a` twice),
//! each typed by the endpoint's schema in the registry: what the `micro` command line builds from
//! its field flags, and the gateway from a query string, a form or a route's path variables.

use std::fmt;

use serde_json::{Map, Value as Json};

use super::Value;

/// The most dotted parts a field path may have.
const MAX_DEPTH: usize = 32;

/// Why a field could not be set: its path, the text given, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The dotted field path, `address.city`.
    pub path: String,
    /// The text it was given.
    pub text: String,
    /// What is wrong with it, `expected int32`.
    pub problem: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}: {}", self.path, self.text, self.problem)
    }
}

impl std::error::Error for FieldError {}

/// The JSON object that `fields` describe. With a `schema` (the endpoint's request), each value
/// has its field's type (`3` for an `int32`, `true` for a `bool`) and a repeated field collects
/// its values in an array; a field the schema lacks stays a string, as does every value without
/// a schema, where a name given twice makes an array.
pub fn fields_to_json<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    schema: Option<&Value>,
) -> Result<Map<String, Json>, FieldError> {
    let mut root = Map::new();
    for (path, text) in fields {
        let error = |problem: String| FieldError {
            path: shortened(path),
            text: shortened(text),
            problem,
        };
        let mut object = &mut root;
        let mut shape = schema;
        let parts: Vec<&str> = path.split('.').collect();
        // Deeper than any message the registry describes (go-micro stops at 3), and shallow
        // enough that dropping the object cannot exhaust the stack: `a.a.a...` from a query
        // string or form would otherwise nest once per dot.
        if parts.len() > MAX_DEPTH {
            return Err(error(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        for (i, part) in parts.iter().enumerate() {
            let field = shape.and_then(|s| s.values.iter().find(|f| f.name == *part));
            if i + 1 < parts.len() {
                let entry = object
                    .entry(part.to_string())
                    .or_insert_with(|| Json::Object(Map::new()));
                let Json::Object(inner) = entry else {
                    return Err(error(format!(
                        "{part} is set both as a value and as a message"
                    )));
                };
                object = inner;
                shape = field;
                continue;
            }
            let type_name = field.map_or("string", |f| f.type_name.as_str());
            let (repeated, element) = match type_name.strip_prefix("[]") {
                Some(element) => (true, element),
                None => (false, type_name),
            };
            let value = typed(text, element).map_err(error)?;
            match object.get_mut(*part) {
                None if repeated => {
                    object.insert(part.to_string(), Json::Array(vec![value]));
                }
                None => {
                    object.insert(part.to_string(), value);
                }
                Some(Json::Array(items)) if repeated || schema.is_none() => items.push(value),
                Some(Json::Object(_)) => {
                    return Err(error(format!(
                        "{part} is set both as a value and as a message"
                    )));
                }
                Some(single) if schema.is_none() => {
                    *single = Json::Array(vec![single.take(), value]);
                }
                Some(_) => {
                    return Err(error(format!(
                        "given twice, but {part} is not a repeated field"
                    )));
                }
            }
        }
    }
    Ok(root)
}

/// `text`, cut to 200 bytes for an error message: what a client sent is echoed, never all of it.
fn shortened(text: &str) -> String {
    const MAX: usize = 200;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// One value as a field of `type_name` wants it in proto3 JSON.
fn typed(text: &str, type_name: &str) -> Result<Json, String> {
    let number = |ok: bool| {
        ok.then(|| serde_json::from_str::<Json>(text.trim()).ok())
            .flatten()
            .ok_or_else(|| format!("expected {type_name}"))
    };
    match type_name {
        "bool" => match text {
            "true" => Ok(Json::Bool(true)),
            "false" => Ok(Json::Bool(false)),
            _ => Err("expected true or false".to_string()),
        },
        "int32" | "sint32" | "sfixed32" | "uint32" | "fixed32" | "int64" | "sint64"
        | "sfixed64" | "uint64" | "fixed64" => number(text.trim().parse::<i128>().is_ok()),
        "float" | "double" => number(text.trim().parse::<f64>().is_ok()),
        _ => Ok(Json::String(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Value {
        Value::new(
            "Req",
            "Req",
            vec![
                Value::new("name", "string", vec![]),
                Value::new("count", "int32", vec![]),
                Value::new("vip", "bool", vec![]),
                Value::new("tags", "[]string", vec![]),
                Value::new(
                    "address",
                    "Address",
                    vec![Value::new("city", "string", vec![])],
                ),
            ],
        )
    }

    #[test]
    fn values_are_typed_by_the_schema() {
        let fields = [
            ("name", "John"),
            ("count", "3"),
            ("vip", "true"),
            ("tags", "a"),
            ("tags", "b"),
            ("address.city", "Paris"),
        ];
        assert_eq!(
            Json::Object(fields_to_json(fields, Some(&schema())).unwrap()),
            json!({"name": "John", "count": 3, "vip": true, "tags": ["a", "b"],
                   "address": {"city": "Paris"}})
        );
        let bad = fields_to_json([("count", "three")], Some(&schema())).unwrap_err();
        assert_eq!(bad.to_string(), "count=three: expected int32");
        let twice = fields_to_json([("name", "a"), ("name", "b")], Some(&schema())).unwrap_err();
        assert!(twice.problem.contains("not a repeated field"), "{twice}");
    }

    #[test]
    fn without_a_schema_values_are_strings_and_repeats_make_arrays() {
        let fields = [("a", "1"), ("a", "2"), ("a", "3"), ("b.c", "x")];
        assert_eq!(
            Json::Object(fields_to_json(fields, None).unwrap()),
            json!({"a": ["1", "2", "3"], "b": {"c": "x"}})
        );
        assert!(fields_to_json([("a", "1"), ("a.b", "2")], None).is_err());
        let deep = vec!["a"; 100_000].join(".");
        let err = fields_to_json([(deep.as_str(), "1")], None).unwrap_err();
        assert!(
            err.problem.contains("nested deeper than 32"),
            "{}",
            err.problem
        );
        assert!(fields_to_json([("a.b", "2"), ("a", "1")], None).is_err());
    }
}
