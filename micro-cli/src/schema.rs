//! Checking a JSON request against the endpoint's request schema from the registry, before it is
//! sent: a field the message lacks, or a value of the wrong kind, is refused with its path.
//!
//! The registry's schema (go-micro's `registry.Value`) names each field and its type: a proto
//! scalar (`string`, `int64`, `bool`, ...), `[]T` for repeated fields, `map<K,V>`, or a message
//! with its own fields. An enum or a well-known type arrives as a name without fields, and
//! anything is let through for it: the server's codec has the last word.

use serde_json::Value as Json;

use micro_runtime::registry::{Value, json_name};

/// Checks `body` against `schema`; the error names the field path and what was wrong.
pub fn check(body: &Json, schema: &Value) -> Result<(), String> {
    check_message(body, schema, "")
}

fn check_message(body: &Json, schema: &Value, path: &str) -> Result<(), String> {
    let Json::Object(fields) = body else {
        return Err(format!(
            "{}: expected a JSON object for {}, got {}",
            at(path),
            schema.type_name,
            kind(body)
        ));
    };
    for (name, value) in fields {
        let Some(field) = schema
            .values
            .iter()
            .find(|f| f.name == *name || json_name(&f.name) == *name)
        else {
            let known: Vec<&str> = schema.values.iter().map(|f| f.name.as_str()).collect();
            let near = crate::lookup::near(name, &known);
            let hint = if near.is_empty() {
                format!("its fields: {}", known.join(", "))
            } else {
                format!("did you mean {}?", near.join(" or "))
            };
            return Err(format!(
                "{}: {} has no field {name:?}; {hint}",
                at(&join(path, name)),
                schema.type_name
            ));
        };
        check_field(value, field, &join(path, name))?;
    }
    Ok(())
}

fn check_field(value: &Json, field: &Value, path: &str) -> Result<(), String> {
    if value.is_null() {
        return Ok(()); // unset, as protojson reads it
    }
    let type_name = field.type_name.as_str();
    if let Some(element) = type_name.strip_prefix("[]") {
        let Json::Array(items) = value else {
            return Err(wrong(path, &format!("a list of {element}"), value));
        };
        let element = Value {
            type_name: element.to_string(),
            ..field.clone()
        };
        for (i, item) in items.iter().enumerate() {
            check_field(item, &element, &format!("{path}[{i}]"))?;
        }
        return Ok(());
    }
    if type_name.starts_with("map<") {
        return match value {
            Json::Object(_) => Ok(()),
            _ => Err(wrong(path, type_name, value)),
        };
    }
    if !field.values.is_empty() {
        return check_message(value, field, path);
    }
    let fits = match type_name {
        "string" => value.is_string(),
        "bool" => value.is_boolean(),
        "bytes" => value.is_string(),
        "int32" | "sint32" | "sfixed32" | "uint32" | "fixed32" | "int64" | "sint64"
        | "sfixed64" | "uint64" | "fixed64" => {
            // protojson writes 64-bit integers as strings, and reads both.
            value.as_i64().is_some()
                || value.as_u64().is_some()
                || value
                    .as_str()
                    .is_some_and(|s| s.trim().parse::<i128>().is_ok())
        }
        "float" | "double" => {
            value.is_number() || matches!(value.as_str(), Some("NaN" | "Infinity" | "-Infinity"))
        }
        // An enum or a well-known type: its JSON form is the codec's business.
        _ => true,
    };
    if fits {
        Ok(())
    } else {
        Err(wrong(path, type_name, value))
    }
}

fn wrong(path: &str, wanted: &str, got: &Json) -> String {
    format!("{}: expected {wanted}, got {}", at(path), kind(got))
}

fn at(path: &str) -> String {
    if path.is_empty() {
        "the request".to_string()
    } else {
        format!("field {path}")
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// A JSON value's kind, with the value when it is short, for messages.
fn kind(value: &Json) -> String {
    let text = value.to_string();
    let shown = if text.len() <= 40 {
        format!(" {text}")
    } else {
        String::new()
    };
    let kind = match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    };
    format!("{kind}{shown}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Value {
        Value::new(
            "CreateRequest",
            "CreateRequest",
            vec![
                Value::new("user_id", "int64", vec![]),
                Value::new("name", "string", vec![]),
                Value::new(
                    "address",
                    "Address",
                    vec![Value::new("city", "string", vec![])],
                ),
                Value::new("tags", "[]string", vec![]),
                Value::new("kind", "Kind", vec![]),
            ],
        )
    }

    #[test]
    fn a_request_of_the_right_shape_passes() {
        let body = json!({"userId": "12", "name": "John", "address": {"city": "Paris"},
            "tags": ["a"], "kind": "KIND_BOOK"});
        check(&body, &schema()).unwrap();
        check(&json!({"user_id": 12, "address": null}), &schema()).unwrap();
    }

    #[test]
    fn an_unknown_field_is_named_with_near_matches() {
        let err = check(&json!({"nmae": "John"}), &schema()).unwrap_err();
        assert!(
            err.contains("field nmae") && err.contains("did you mean name?"),
            "{err}"
        );
        let err = check(&json!({"address": {"town": "Paris"}}), &schema()).unwrap_err();
        assert!(
            err.contains("field address.town") && err.contains("its fields: city"),
            "{err}"
        );
    }

    #[test]
    fn a_wrong_kind_is_named_with_its_path() {
        let err = check(&json!({"name": 42}), &schema()).unwrap_err();
        assert_eq!(err, "field name: expected string, got a number 42");
        let err = check(&json!({"tags": ["a", 1]}), &schema()).unwrap_err();
        assert!(err.contains("field tags[1]: expected string"), "{err}");
        let err = check(&json!({"user_id": "twelve"}), &schema()).unwrap_err();
        assert!(err.contains("field user_id: expected int64"), "{err}");
        let err = check(&json!([1]), &schema()).unwrap_err();
        assert!(err.contains("the request: expected a JSON object"), "{err}");
    }
}
