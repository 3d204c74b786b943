//! The README's Quick start, as a new user follows it: a crate outside this workspace, made of
//! the files the README shows (taken from README.md itself, so the text cannot drift from what
//! works), beside a checkout of micro reached as `../micro`. It must:
//! - build and print `Hello John`;
//! - resolve with the newest tokio, serde and everything else (no lockfile: cargo picks the
//!   newest releases our requirements allow, as it does for a user);
//! - build again with the `etcd` feature on a PATH without protoc and with no `PROTOC`, since
//!   this workspace's `.cargo/config.toml` (which supplies one) does not apply out here.
//!
//! Slow the first time (a whole dependency tree builds in its own target directory), quick after.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

/// The fenced blocks of the README's Quick start, each with the first line of the paragraph
/// before it.
fn quick_start_blocks() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let section = readme
        .split("## Quick start\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README.md has a Quick start section");
    let mut blocks = Vec::new();
    let mut lead = String::new();
    let mut in_paragraph = false;
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("```") {
            let body: Vec<&str> = lines
                .by_ref()
                .take_while(|l| !l.starts_with("```"))
                .collect();
            blocks.push((lead.clone(), body.join("\n") + "\n"));
            in_paragraph = false;
        } else if line.trim().is_empty() {
            in_paragraph = false;
        } else if !in_paragraph {
            lead = line.to_string();
            in_paragraph = true;
        }
    }
    blocks
}

/// The block whose lead-in starts with `lead`.
fn block(blocks: &[(String, String)], lead: &str) -> String {
    blocks
        .iter()
        .find(|(l, _)| l.starts_with(lead))
        .unwrap_or_else(|| panic!("no Quick start block after {lead:?}"))
        .1
        .clone()
}

/// `cargo` in `dir` with a clean environment: none of the outer cargo's variables, no PROTOC,
/// and a PATH without protoc on it.
fn cargo(dir: &Path, target: &Path, args: &[&str]) -> Output {
    let path = std::env::var("PATH").unwrap_or_default();
    let clean_path: Vec<&str> = path
        .split(':')
        .filter(|d| !d.is_empty() && !Path::new(d).join("protoc").exists())
        .collect();
    let mut command = Command::new(env!("CARGO"));
    command.current_dir(dir).args(args).env_clear();
    for (key, value) in std::env::vars() {
        let keep = matches!(
            key.as_str(),
            "HOME" | "USER" | "CARGO_HOME" | "RUSTUP_HOME" | "TMPDIR" | "CARGO_INCREMENTAL"
        ) || key.starts_with("RUSTUP_");
        if keep {
            command.env(key, value);
        }
    }
    command
        .env("PATH", clean_path.join(":"))
        .env("CARGO_TARGET_DIR", target)
        // As this workspace's own dev profile: the same build, in far less disk.
        .env("CARGO_PROFILE_DEV_DEBUG", "line-tables-only")
        .env("CARGO_TERM_COLOR", "never");
    let output = command.output().expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn the_readme_quick_start_builds_and_runs_outside_the_workspace() {
    let blocks = quick_start_blocks();
    let manifest = block(&blocks, "`Cargo.toml`");
    let proto = block(&blocks, "`proto/greeter.proto`");
    let build_rs = block(&blocks, "`build.rs`");
    let main_rs = block(&blocks, "`src/main.rs`");
    let etcd_dependency = blocks
        .iter()
        .map(|(_, body)| body)
        .find(|body| body.contains("features = [\"etcd\""))
        .expect("the Quick start shows how to turn etcd on")
        .clone();

    // ../micro is this checkout, as `git clone` would have made it.
    let root = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(workspace(), root.path().join("micro")).unwrap();
    let hello = root.path().join("hello");
    std::fs::create_dir_all(hello.join("src")).unwrap();
    std::fs::create_dir_all(hello.join("proto")).unwrap();
    // What `cargo new hello` writes, then the README's additions.
    let package = "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n";
    std::fs::write(hello.join("Cargo.toml"), format!("{package}{manifest}")).unwrap();
    std::fs::write(hello.join("proto/greeter.proto"), proto).unwrap();
    std::fs::write(hello.join("build.rs"), build_rs).unwrap();
    std::fs::write(hello.join("src/main.rs"), main_rs).unwrap();

    let target = workspace().join("target/quick-start");
    let which = Command::new("sh")
        .args(["-c", "command -v protoc"])
        .env("PATH", {
            let path = std::env::var("PATH").unwrap_or_default();
            path.split(':')
                .filter(|d| !Path::new(d).join("protoc").exists())
                .collect::<Vec<_>>()
                .join(":")
        })
        .output()
        .unwrap();
    assert!(
        !which.status.success(),
        "protoc must not be on the build's PATH"
    );

    let run = cargo(&hello, &target, &["run", "--quiet"]);
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "Hello John");

    // No lockfile was given, so cargo resolved the newest releases our requirements allow:
    // the newest tokio and serde on crates.io must be what it picked.
    for krate in ["tokio", "serde"] {
        // Outside any project, `cargo info` reports the newest release in the index.
        let info = cargo(root.path(), &target, &["info", krate]);
        let info = String::from_utf8_lossy(&info.stdout).to_string();
        let newest = info
            .lines()
            .find_map(|l| l.strip_prefix("version: "))
            .and_then(|v| v.split_whitespace().next())
            .unwrap_or_else(|| panic!("cargo info {krate}: {info}"))
            .to_string();
        let tree = cargo(&hello, &target, &["tree", "--depth", "0", "-i", krate]);
        let resolved = String::from_utf8_lossy(&tree.stdout).to_string();
        assert!(
            resolved.starts_with(&format!("{krate} v{newest}")),
            "{krate}: resolved {resolved:?}, newest {newest}"
        );
    }

    // The etcd feature, as the README spells it, still with no protoc anywhere.
    let with_etcd = manifest.replace(
        manifest
            .lines()
            .find(|l| l.starts_with("micro-runtime"))
            .expect("a micro-runtime dependency line"),
        etcd_dependency.trim(),
    );
    std::fs::write(hello.join("Cargo.toml"), format!("{package}{with_etcd}")).unwrap();
    let run = cargo(&hello, &target, &["run", "--quiet"]);
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "Hello John");
}
