//! Reading and printing the schema trees of registry records (go-micro's `Value`): for tools that
//! know messages only from the registry, such as the `micro` command line, the gateway's OpenAPI
//! document and the dashboard.

use super::Value;

impl Value {
    /// A value: a field (`name`, `type_name`) or a message (its fields in `values`).
    pub fn new(name: impl Into<String>, type_name: impl Into<String>, values: Vec<Value>) -> Self {
        Self {
            name: name.into(),
            type_name: type_name.into(),
            values,
        }
    }

    /// The field at a dotted path (`address.city`), by proto name.
    pub fn find(&self, path: &str) -> Option<&Value> {
        path.split('.')
            .try_fold(self, |at, part| at.values.iter().find(|f| f.name == part))
    }

    /// The type as an indented tree, as `micro describe` prints it: `Type {`, a line per field
    /// (nested messages opened in place), `}`; a type without fields is its name alone.
    ///
    /// ```
    /// use micro_runtime::registry::Value;
    ///
    /// let request = Value::new("HelloRequest", "HelloRequest", vec![Value::new("name", "string", vec![])]);
    /// assert_eq!(request.tree(), "HelloRequest {\n    name string\n}");
    /// ```
    pub fn tree(&self) -> String {
        self.tree_at(0)
    }

    fn tree_at(&self, depth: usize) -> String {
        if self.values.is_empty() {
            return self.type_name.clone();
        }
        let indent = "    ".repeat(depth + 1);
        let mut out = format!("{} {{\n", self.type_name);
        for field in &self.values {
            out.push_str(&format!(
                "{indent}{} {}\n",
                field.name,
                field.tree_at(depth + 1)
            ));
        }
        out.push_str(&"    ".repeat(depth));
        out.push('}');
        out
    }
}

/// The proto3 JSON name of a field: `created_at` → `createdAt` (protoc's lowerCamelCase).
pub fn json_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_messages_open_in_place() {
        let address = Value::new(
            "address",
            "Address",
            vec![Value::new("city", "string", vec![])],
        );
        let request = Value::new(
            "CreateRequest",
            "CreateRequest",
            vec![
                Value::new("name", "string", vec![]),
                address,
                Value::new("tags", "[]string", vec![]),
            ],
        );
        assert_eq!(
            request.tree(),
            "CreateRequest {\n    name string\n    address Address {\n        city string\n    }\n    tags []string\n}"
        );
        assert_eq!(
            request.find("address.city").map(|v| v.type_name.as_str()),
            Some("string")
        );
        assert!(request.find("address.town").is_none());
    }

    #[test]
    fn json_names_are_lower_camel_case() {
        assert_eq!(json_name("created_at"), "createdAt");
        assert_eq!(json_name("id"), "id");
    }
}
