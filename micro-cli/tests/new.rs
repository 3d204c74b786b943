//! `micro new`: the crate it writes builds and runs as it is (on a path dependency on this
//! checkout), and bad names or an existing directory are refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn micro(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_micro"))
        .args(args)
        .output()
        .expect("the micro binary runs")
}

#[tokio::test]
async fn a_new_service_builds_runs_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let root = workspace();
    let made = micro(&[
        "new",
        "demo",
        "--path",
        dir.path().to_str().unwrap(),
        "--micro",
        root.to_str().unwrap(),
        "--no-git",
    ]);
    assert!(made.status.success(), "{made:?}");
    let demo = dir.path().join("demo");
    for file in [
        "Cargo.toml",
        "build.rs",
        "src/main.rs",
        "proto/demo.proto",
        "README.md",
    ] {
        assert!(demo.join(file).exists(), "{file} missing");
    }
    assert!(!demo.join(".git").exists(), "--no-git made a repository");

    // `cargo run`, as the README says, on the process's memory registry (no multicast here).
    // The quick-start test's target directory: the same dependencies, built once.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut run = tokio::process::Command::new(cargo)
        .args(["run", "--quiet"])
        .current_dir(&demo)
        .env("CARGO_TARGET_DIR", root.join("target/quick-start"))
        // The quick-start test's profile, so the two share their build.
        .env("CARGO_PROFILE_DEV_DEBUG", "line-tables-only")
        .env("MICRO_REGISTRY", "memory")
        .env("MICRO_BROKER", "memory")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(run.stdout.take().unwrap()).lines();
    // A first build of micro-runtime and its dependencies can take minutes on a small machine.
    let first = tokio::time::timeout(Duration::from_secs(900), lines.next_line())
        .await
        .expect("the service prints its greeting")
        .unwrap();
    assert_eq!(first.as_deref(), Some("Hello John"));
    // It serves on until stopped.
    assert!(run.try_wait().unwrap().is_none(), "the service exited");
    run.kill().await.unwrap();
}

#[test]
fn bad_names_and_existing_directories_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    for name in ["Demo", "9lives", "my service", "x/y"] {
        let out = micro(&["new", name, "--path", path, "--no-git"]);
        assert_eq!(out.status.code(), Some(2), "{name}: {out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("not a service name"));
    }
    std::fs::create_dir(dir.path().join("taken")).unwrap();
    let out = micro(&["new", "taken", "--path", path, "--no-git"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    // Without --no-git, the crate is a repository.
    let out = micro(&["new", "with-git", "--path", path]);
    assert!(out.status.success(), "{out:?}");
    assert!(dir.path().join("with-git/.git").exists());
}
