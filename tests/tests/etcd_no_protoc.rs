//! A user's crate enabling micro-runtime's `etcd` feature builds with no protoc anywhere: not on
//! `PATH`, not in `PROTOC`. Built outside this workspace, so the workspace's `.cargo/config.toml`
//! (which points `PROTOC` at the vendored protoc for etcd-client, a test-only dependency) does not
//! apply, exactly as for a user.
//!
//! The first run compiles micro-runtime's dependencies into `target/tmp/etcd-no-protoc` (a few
//! minutes on two cores); later runs reuse them.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The throwaway crate: a binary that names the etcd registry, so the generated client is compiled
/// and linked. Without mDNS, micro-runtime's default feature, to build less; it has nothing to do
/// with protoc.
const MANIFEST: &str = r#"[package]
name = "etcd-no-protoc"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
micro-runtime = { path = "MICRO_RUNTIME", default-features = false, features = ["etcd"] }

# Its own workspace, whatever directory it lands in.
[workspace]
"#;

const MAIN: &str = r#"use micro_runtime::registry::{EtcdOptions, EtcdRegistry, Registry};

fn main() {
    let registry = EtcdRegistry::new(EtcdOptions::default()).expect("default options are valid");
    println!("{}", registry.name());
}
"#;

#[test]
fn a_crate_outside_the_workspace_builds_the_etcd_feature_without_protoc() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is inside the workspace");
    let krate = tempfile::tempdir().expect("temp dir for the crate");
    let micro_runtime = workspace.join("micro-runtime");
    let manifest = MANIFEST.replace("MICRO_RUNTIME", &micro_runtime.to_string_lossy());
    fs::write(krate.path().join("Cargo.toml"), manifest).unwrap();
    fs::create_dir(krate.path().join("src")).unwrap();
    fs::write(krate.path().join("src/main.rs"), MAIN).unwrap();
    // The workspace's versions, so the build resolves offline to what the workspace tested.
    fs::copy(
        workspace.join("Cargo.lock"),
        krate.path().join("Cargo.lock"),
    )
    .unwrap();

    let cargo = PathBuf::from(std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into()));
    let tools = tempfile::tempdir().expect("temp dir for the linker links");
    let path = protoc_free_path(&cargo, tools.path());
    assert_eq!(
        find_on(&path, "protoc"),
        None,
        "the PATH for this build must hold no protoc"
    );

    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("etcd-no-protoc");
    let mut command = Command::new(&cargo);
    command
        .args(["build", "--offline", "--quiet"])
        .current_dir(krate.path())
        // Nothing inherited: in particular no PROTOC (cargo sets it for this test from the
        // workspace's .cargo/config.toml) and no PROTOC_INCLUDE.
        .env_clear()
        .env("PATH", &path)
        .env("CARGO_TARGET_DIR", &target)
        // Smaller and faster: this build is never debugged.
        .env("CARGO_PROFILE_DEV_DEBUG", "false");
    // Where cargo and rustup keep the registry and toolchains.
    for name in ["HOME", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    let output = command.output().expect("run cargo");
    assert!(
        output.status.success(),
        "cargo build of a crate enabling `etcd` failed without protoc:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let built = target.join("debug/etcd-no-protoc");
    let ran = Command::new(&built).output().expect("run the built binary");
    assert_eq!(String::from_utf8_lossy(&ran.stdout).trim(), "etcd");
}

/// A PATH with only cargo's directory (which holds rustc) and `tools`, where `cc` and `ld` (the
/// linker rustc calls, and the one cc calls) are linked from the current PATH. Not `/usr/bin`:
/// a machine with protobuf-compiler installed has its protoc there.
fn protoc_free_path(cargo: &Path, tools: &Path) -> OsString {
    let current = std::env::var_os("PATH").unwrap_or_default();
    for tool in ["cc", "ld"] {
        if let Some(found) = find_on(&current, tool) {
            std::os::unix::fs::symlink(found, tools.join(tool)).expect("link a build tool");
        }
    }
    let cargo_dir = cargo.parent().expect("cargo lives in a directory");
    std::env::join_paths([cargo_dir, tools]).expect("a valid PATH")
}

/// The first file named `name` in the directories of `path`.
fn find_on(path: &OsString, name: &str) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
