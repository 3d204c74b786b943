//! What an endpoint's schema (go-micro's `Value` tree) becomes on its page: a readable tree, and
//! the inputs of a call form, one per field, nested fields named by their dotted path.

use std::fmt::Write;

use micro_runtime::registry::Value;

use crate::docs::escape;

/// The form's inputs for a request message, escaped, with labels; `id` keeps their ids unique on
/// the page.
pub(crate) fn inputs(request: &Value, id: &str) -> String {
    let mut out = String::new();
    for field in &request.values {
        write_input(&mut out, field, "", id);
    }
    out
}

fn write_input(out: &mut String, field: &Value, prefix: &str, id: &str) {
    let path = if prefix.is_empty() {
        field.name.clone()
    } else {
        format!("{prefix}.{}", field.name)
    };
    let is_message = !field.values.is_empty() && !field.type_name.starts_with("[]");
    if is_message {
        let _ = write!(
            out,
            "<fieldset><legend>{} <small>{}</small></legend>",
            escape(&field.name),
            escape(&field.type_name)
        );
        for inner in &field.values {
            write_input(out, inner, &path, id);
        }
        out.push_str("</fieldset>");
        return;
    }
    let kind = kind(&field.type_name);
    let input_id = format!("{id}-{}", path.replace('.', "-"));
    let (control, hint) = match kind {
        "bool" => ("type=\"checkbox\"".to_string(), ""),
        "number" => ("type=\"text\" inputmode=\"decimal\"".to_string(), ""),
        "json" => (
            "type=\"text\" placeholder=\"JSON\"".to_string(),
            " (as JSON)",
        ),
        _ => ("type=\"text\"".to_string(), ""),
    };
    let _ = write!(
        out,
        "<label for=\"{input_id}\">{} <small>{}{hint}</small></label>\
         <input id=\"{input_id}\" name=\"{}\" data-kind=\"{kind}\" {control}>",
        escape(&field.name),
        escape(&field.type_name),
        escape(&path),
        input_id = escape(&input_id),
    );
}

/// How the script reads an input of this proto type.
fn kind(type_name: &str) -> &'static str {
    match type_name {
        "bool" => "bool",
        "int32" | "sint32" | "sfixed32" | "uint32" | "fixed32" | "float" | "double" => "number",
        // 64-bit integers travel as strings in proto3 JSON, as do strings, bytes and enums.
        t if t.starts_with("[]") || t.starts_with("map<") => "json",
        _ => "string",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_follow_the_schema_and_escape_names() {
        let request = Value::new(
            "Req",
            "Req",
            vec![
                Value::new("name", "string", vec![]),
                Value::new("vip", "bool", vec![]),
                Value::new("tags", "[]string", vec![]),
                Value::new(
                    "address",
                    "Address",
                    vec![Value::new("<city>", "string", vec![])],
                ),
            ],
        );
        let html = inputs(&request, "e0");
        assert!(
            html.contains("name=\"name\" data-kind=\"string\""),
            "{html}"
        );
        assert!(
            html.contains("name=\"vip\" data-kind=\"bool\" type=\"checkbox\""),
            "{html}"
        );
        assert!(html.contains("data-kind=\"json\""), "{html}");
        assert!(html.contains("name=\"address.&lt;city&gt;\""), "{html}");
        assert!(!html.contains("<city>"), "{html}");
    }
}
