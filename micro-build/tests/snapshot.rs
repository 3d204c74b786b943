//! Expected-output tests: the generated code for the workspace's protos, byte for byte.
//!
//! On a deliberate change, rerun with `UPDATE_SNAPSHOTS=1` and review the diff.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).to_path_buf()
}

fn snapshots() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots")).to_path_buf()
}

/// Compares every generated file with `tests/snapshots/<prefix><name>`.
fn check(test: &str, prefix: &str, builder: micro_build::Builder, protos: &[&str]) {
    let root = workspace();
    let protos: Vec<PathBuf> = protos.iter().map(|p| root.join("proto").join(p)).collect();
    let files = builder
        .generate(&protos, &[root.join("proto")])
        .unwrap_or_else(|e| panic!("generation failed: {e}"));
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut failures = Vec::new();
    for file in files {
        // Each test has its own include file; package files are shared by name.
        let name = if file.name == micro_build::DEFAULT_INCLUDE_FILE && prefix.is_empty() {
            format!("{test}.{}", file.name)
        } else {
            format!("{prefix}{}", file.name)
        };
        let path = snapshots().join(name);
        if update {
            std::fs::write(&path, &file.content).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if expected != file.content {
            failures.push(format!(
                "{}:\n{}",
                path.display(),
                diff_hint(&expected, &file.content)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "generated code differs from the snapshots (rerun with UPDATE_SNAPSHOTS=1 to accept):\n{}",
        failures.join("\n")
    );
}

/// The first differing line, with a little context.
fn diff_hint(expected: &str, actual: &str) -> String {
    if expected.is_empty() {
        return "  snapshot missing".to_owned();
    }
    let (expected, actual): (Vec<&str>, Vec<&str>) =
        (expected.lines().collect(), actual.lines().collect());
    let line = expected
        .iter()
        .zip(&actual)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(actual.len()));
    format!(
        "  first difference at line {}:\n  - {}\n  + {}",
        line + 1,
        expected.get(line).unwrap_or(&"<end of file>"),
        actual.get(line).unwrap_or(&"<end of file>"),
    )
}

#[test]
fn greeter_matches_snapshot() {
    check("greeter", "", micro_build::configure(), &["greeter.proto"]);
}

#[test]
fn streaming_matches_snapshot() {
    check(
        "streaming",
        "",
        micro_build::configure(),
        &["streaming.proto"],
    );
}

#[test]
fn nested_packages_match_snapshot() {
    check(
        "nested",
        "",
        micro_build::configure(),
        &["nested/api/catalog.proto", "nested/common/types.proto"],
    );
}

#[test]
fn client_only_and_server_only_match_snapshots() {
    check(
        "client_only",
        "client_only.",
        micro_build::configure().build_server(false),
        &["streaming.proto"],
    );
    check(
        "server_only",
        "server_only.",
        micro_build::configure().build_client(false),
        &["streaming.proto"],
    );
}
