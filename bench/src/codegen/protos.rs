//! The `.proto` sources both generators are fed: many services, and for every method its own
//! request and response, shaped like real APIs (scalars, a list, a nested message) so that the
//! generated code is as large and varied as in practice, not one shared empty message.

use std::ops::Range;

/// A proto3 file in `package` holding the services numbered `services` (`Service3`, ...),
/// each with `methods` unary methods.
///
/// Message names carry the service number (`Service3Method7Request`), so any number of
/// services can share one package without clashing.
pub fn file(package: &str, services: Range<usize>, methods: usize) -> String {
    let mut out = format!("syntax = \"proto3\";\n\npackage {package};\n");
    for service in services {
        push_service(&mut out, service, methods);
    }
    out
}

fn push_service(out: &mut String, service: usize, methods: usize) {
    // Comments become doc comments in both generators, as they would for a real API.
    out.push_str(&format!(
        "\n// Service number {service}.\nservice Service{service} {{\n"
    ));
    for method in 0..methods {
        let name = format!("Service{service}Method{method}");
        out.push_str(&format!(
            "  // Method number {method}.\n  rpc Method{method}({name}Request) returns ({name}Response);\n"
        ));
    }
    out.push_str("}\n");
    for method in 0..methods {
        push_messages(out, &format!("Service{service}Method{method}"));
    }
}

fn push_messages(out: &mut String, name: &str) {
    out.push_str(&format!(
        r#"
message {name}Request {{
  message Filter {{
    string field = 1;
    repeated string values = 2;
  }}
  string name = 1;
  int64 id = 2;
  repeated string tags = 3;
  Filter filter = 4;
}}

message {name}Response {{
  message Item {{
    string id = 1;
    int64 version = 2;
    string label = 3;
  }}
  string message = 1;
  int64 total = 2;
  repeated string warnings = 3;
  Item item = 4;
  repeated Item items = 5;
}}
"#
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_has_its_own_messages() {
        let text = file("svc3", 3..4, 2);
        assert!(text.contains("package svc3;"));
        assert!(text.contains("service Service3 {"));
        assert!(
            text.contains("rpc Method1(Service3Method1Request) returns (Service3Method1Response);")
        );
        assert_eq!(text.matches("\nmessage ").count(), 4);
    }
}
