//! The plugin under protoc: errors, options and pairing with another plugin.

mod support;

use std::path::PathBuf;

use support::{proto_dir, protoc};

/// Runs the plugin on one invalid proto and returns protoc's stderr.
fn fails(proto: &str, extra: &[&str]) -> String {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec![format!("--micro_out={}", out.path().display())];
    args.extend(extra.iter().map(|s| s.to_string()));
    let output = protoc(&args, &[proto_dir().join(proto)]);
    assert!(!output.status.success(), "protoc accepted {proto}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn every_invalid_proto_fails_naming_its_file() {
    let mut seen = 0;
    for entry in std::fs::read_dir(proto_dir().join("invalid")).unwrap() {
        let path: PathBuf = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let stderr = fails(&format!("invalid/{name}"), &[]);
        assert!(
            stderr.contains(&name),
            "{name}: message does not name the file:\n{stderr}"
        );
        seen += 1;
    }
    assert!(seen >= 6, "expected the six invalid protos, found {seen}");
}

#[test]
fn syntax_errors_carry_line_numbers() {
    let stderr = fails("invalid/syntax_error.proto", &[]);
    assert!(stderr.contains("invalid/syntax_error.proto:7:"), "{stderr}");
}

#[test]
fn colliding_endpoints_are_refused_with_our_message() {
    let stderr = fails("invalid/colliding_endpoint.proto", &[]);
    assert!(
        stderr.contains("invalid/colliding_endpoint.proto:8:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("both map to the endpoint `Clash.SayHello`"),
        "{stderr}"
    );
}

#[test]
fn editions_are_refused_by_protoc_for_the_plugin() {
    // The plugin does not declare editions support, so protoc refuses before calling it.
    let stderr = fails("invalid/edition.proto", &[]);
    assert!(stderr.contains("invalid/edition.proto"), "{stderr}");
    assert!(stderr.to_lowercase().contains("edition"), "{stderr}");
}

#[test]
fn unknown_options_fail_naming_the_option() {
    let out = tempfile::tempdir().unwrap();
    let output = protoc(
        &[
            format!("--micro_out={}", out.path().display()),
            "--micro_opt=no_client,frobnicate".to_owned(),
        ],
        &[proto_dir().join("greeter.proto")],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown option `frobnicate`"), "{stderr}");
}

#[test]
fn services_only_inserts_an_include_into_the_other_plugins_file() {
    // No protoc-gen-prost here: a second instance of this plugin writes `greeter.rs`
    // (ending in the same `module` insertion point) in the same protoc run.
    let out = tempfile::tempdir().unwrap();
    let output = protoc(
        &[
            format!("--stand_in_out={}", out.path().display()),
            format!("--micro_out={}", out.path().display()),
            "--micro_opt=services_only".to_owned(),
        ],
        &[proto_dir().join("greeter.proto")],
    );
    assert!(
        output.status.success(),
        "protoc failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let module = std::fs::read_to_string(out.path().join("greeter.rs")).unwrap();
    let services = std::fs::read_to_string(out.path().join("greeter.micro.rs")).unwrap();
    assert!(
        module.contains("include!(\"greeter.micro.rs\");\n// @@protoc_insertion_point(module)"),
        "{module}"
    );
    assert!(services.contains("pub trait GreeterHandler"));
    assert!(
        !services.contains("pub struct HelloRequest"),
        "services only"
    );
}

#[test]
fn services_only_with_no_include_writes_just_the_service_file() {
    let out = tempfile::tempdir().unwrap();
    let output = protoc(
        &[
            format!("--micro_out={}", out.path().display()),
            "--micro_opt=services_only,no_include".to_owned(),
        ],
        &[proto_dir().join("greeter.proto")],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let names: Vec<String> = support::read_dir(out.path())
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(names, ["greeter.micro.rs"]);
}

#[test]
fn no_client_and_no_server_drop_their_halves() {
    let out = tempfile::tempdir().unwrap();
    let output = protoc(
        &[
            format!("--micro_out={}", out.path().display()),
            "--micro_opt=no_client,no_server".to_owned(),
        ],
        &[proto_dir().join("greeter.proto")],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let code = std::fs::read_to_string(out.path().join("greeter.rs")).unwrap();
    assert!(code.contains("pub trait GreeterHandler") && code.contains("GREETER_SERVICE"));
    assert!(!code.contains("GreeterClient") && !code.contains("GreeterServer"));
}
