//! Bad input fails the build with a message naming the file (and line where known).

use std::path::{Path, PathBuf};

fn proto_dir() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../proto")).to_path_buf()
}

/// Generates `invalid/<name>` and returns the error message.
fn error_for(name: &str) -> String {
    let out = tempfile::tempdir().unwrap();
    let result = micro_build::configure()
        .out_dir(out.path())
        .compile_protos(&[proto_dir().join("invalid").join(name)], &[proto_dir()]);
    match result {
        Ok(()) => panic!("{name} was accepted"),
        Err(error) => error.to_string(),
    }
}

/// Generates one proto written on the fly and returns the error message.
fn error_for_source(source: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inline.proto"), source).unwrap();
    let files =
        micro_build::configure().generate(&[dir.path().join("inline.proto")], &[dir.path()]);
    match files {
        Ok(_) => panic!("accepted:\n{source}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn every_invalid_proto_is_refused_naming_its_file() {
    for entry in std::fs::read_dir(proto_dir().join("invalid")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let message = error_for(&name);
        assert!(
            message.contains(&name),
            "{name}: message does not name the file:\n{message}"
        );
    }
}

#[test]
fn protoc_diagnostics_keep_their_line_numbers() {
    for (name, at) in [
        ("syntax_error.proto", "syntax_error.proto:7:"),
        ("duplicate_method.proto", "duplicate_method.proto:7:"),
        ("unknown_type.proto", "unknown_type.proto:6:"),
        ("missing_import.proto", "missing_import.proto:5:"),
    ] {
        let message = error_for(name);
        assert!(
            message.contains(at),
            "{name}: expected `{at}` in:\n{message}"
        );
    }
}

#[test]
fn editions_are_refused_with_a_hint() {
    assert_eq!(
        error_for("edition.proto"),
        "invalid/edition.proto: editions are not supported (micro generates code with prost, \
         which supports proto2 and proto3); use syntax = \"proto3\""
    );
}

#[test]
fn rpcs_sharing_an_endpoint_are_refused() {
    let message = error_for("colliding_endpoint.proto");
    assert!(
        message.starts_with("invalid/colliding_endpoint.proto:8:3: "),
        "{message}"
    );
    assert!(message.contains("`say_hello` and `SayHello`"), "{message}");
    assert!(message.contains("endpoint `Clash.SayHello`"), "{message}");
}

#[test]
fn rpcs_sharing_a_rust_method_are_refused() {
    let message = error_for_source(
        "syntax = \"proto3\";\npackage p;\nservice S {\n  rpc Hello(M) returns (M);\n  \
         rpc HelloWith(M) returns (M);\n}\nmessage M {}\n",
    );
    assert!(message.starts_with("inline.proto:5:3: "), "{message}");
    assert!(
        message.contains("the Rust method `hello_with`"),
        "{message}"
    );
}

#[test]
fn services_clashing_with_messages_are_refused() {
    let message = error_for_source(
        "syntax = \"proto3\";\npackage p;\nservice S {\n  rpc Get(SClient) returns (SClient);\n}\n\
         message SClient {}\n",
    );
    assert!(message.contains("inline.proto"), "{message}");
    assert!(message.contains("`SClient`"), "{message}");
}

#[test]
fn a_missing_proto_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let result = micro_build::configure().generate(&[dir.path().join("nope.proto")], &[dir.path()]);
    let message = result
        .map(|_| String::new())
        .unwrap_or_else(|e| e.to_string());
    assert!(message.contains("nope.proto"), "{message}");
}

#[test]
fn http_routes_must_name_fields_of_the_request() {
    let route = |option: &str| {
        format!(
            r#"syntax = "proto3";
package inline;
import "google/api/annotations.proto";
service Users {{
  rpc Get(GetRequest) returns (GetRequest) {{
    option (google.api.http) = {{ {option} }};
  }}
}}
message GetRequest {{ string id = 1; }}
"#
        )
    };
    for (option, why) in [
        (
            r#"get: "/v1/users/{user_id}""#,
            "has the variable {user_id}, but GetRequest has no field \"user_id\"",
        ),
        (
            r#"post: "/v1/users" body: "user""#,
            "body: \"user\" is not a field of GetRequest",
        ),
        (r#"get: "v1/users""#, "must start with /"),
        (r#"get: "/v1/users/{id""#, "has a { without its }"),
    ] {
        let message = error_for_source(&route(option));
        assert!(
            message.contains("inline.proto:5:3") && message.contains(why),
            "{option}: {message}"
        );
    }
    // A route that names its fields is accepted.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("inline.proto"),
        route(r#"get: "/v1/users/{id}""#),
    )
    .unwrap();
    micro_build::configure()
        .generate(&[dir.path().join("inline.proto")], &[dir.path()])
        .expect("a valid route");
}
