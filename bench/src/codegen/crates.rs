//! The two crates `codegen_build` compiles: the same protos, once through micro-build
//! (`gen-micro`) and once through tonic-prost-build (`gen-tonic`), each set up as a user would.
//!
//! Files are only rewritten when their content changes, so a second bench run finds every
//! dependency fresh and its warm-up build is quick.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use super::protos;

/// Methods per service, in every generated proto.
const METHODS: usize = 10;

/// Where the generated crates live.
pub struct Crates {
    /// The crate built with micro-build.
    pub micro: PathBuf,
    /// The crate built with tonic-prost-build.
    pub tonic: PathBuf,
}

/// Writes `files` protos (`svc0.proto` … with package `svc0` …, one service each) under
/// `root/proto`, and the two crates that compile them under `root/gen-micro` and
/// `root/gen-tonic`. `workspace_root` must be absolute: the crates name micro's crates by path.
pub fn write(root: &Path, workspace_root: &Path, files: usize) -> Result<Crates> {
    let proto_dir = root.join("proto");
    let names: Vec<String> = (0..files).map(|n| format!("svc{n}")).collect();
    for (n, name) in names.iter().enumerate() {
        write_if_changed(
            &proto_dir.join(format!("{name}.proto")),
            &protos::file(name, n..n + 1, METHODS),
        )?;
    }
    remove_stale_protos(&proto_dir, &names)?;
    // Relative to each crate, as a user's build.rs would name them.
    let protos: Vec<String> = names
        .iter()
        .map(|n| format!("\"../proto/{n}.proto\""))
        .collect();
    let protos = protos.join(", ");

    let lock = fs::read_to_string(workspace_root.join("Cargo.lock"))
        .context("reading the workspace's Cargo.lock")?;
    let micro = root.join("gen-micro");
    let micro_deps = format!(
        "[dependencies]\nmicro-runtime = {{ path = {} }}\ntokio = {}\n\n\
         [build-dependencies]\nmicro-build = {{ path = {} }}\n",
        toml_path(&workspace_root.join("micro-runtime"))?,
        workspace_tokio(workspace_root)?,
        toml_path(&workspace_root.join("micro-build"))?,
    );
    let micro_build = format!(
        "fn main() -> Result<(), micro_build::Error> {{\n    \
         micro_build::compile_protos(&[{protos}], &[\"../proto\"])\n}}\n"
    );
    write_crate(
        &micro,
        "gen-micro",
        &micro_deps,
        &micro_build,
        "micro_runtime::include_protos!();\n",
        &lock,
    )?;

    let tonic = root.join("gen-tonic");
    let tonic_deps = "[dependencies]\ntonic = \"0.14\"\ntonic-prost = \"0.14\"\nprost = \"0.14\"\n\n\
         [build-dependencies]\ntonic-prost-build = \"0.14\"\nprost-build = \"0.14\"\n\
         protoc-bin-vendored = \"3\"\n";
    // The vendored protoc goes to prost-build directly: setting PROTOC would need
    // `std::env::set_var`, which is unsafe in edition 2024.
    let tonic_build = format!(
        "fn main() -> Result<(), Box<dyn std::error::Error>> {{\n    \
         let mut config = prost_build::Config::new();\n    \
         config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);\n    \
         tonic_prost_build::configure().compile_with_config(config, &[{protos}], &[\"../proto\"])?;\n    \
         Ok(())\n}}\n"
    );
    let tonic_lib: String = names
        .iter()
        .map(|n| format!("pub mod {n} {{\n    tonic::include_proto!(\"{n}\");\n}}\n"))
        .collect();
    write_crate(
        &tonic,
        "gen-tonic",
        tonic_deps,
        &tonic_build,
        &tonic_lib,
        &lock,
    )?;
    Ok(Crates { micro, tonic })
}

/// Writes one crate. Its empty `[workspace]` keeps it out of any workspace it sits inside
/// (the work dir is often under micro's own `target/`).
fn write_crate(
    dir: &Path,
    name: &str,
    deps: &str,
    build_rs: &str,
    lib_rs: &str,
    lock: &str,
) -> Result<()> {
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
         [workspace]\n\n{deps}"
    );
    write_if_changed(&dir.join("Cargo.toml"), &manifest)?;
    write_if_changed(&dir.join("build.rs"), build_rs)?;
    write_if_changed(&dir.join("src/lib.rs"), lib_rs)?;
    copy_lock(dir, lock)
}

/// Starts the crate from the workspace's Cargo.lock, so both crates build the very versions
/// micro is pinned to (some pins are deliberate, to keep one syn). Cargo then rewrites the copy
/// for the crate, so the original is kept beside it to tell when the workspace's has changed.
fn copy_lock(dir: &Path, lock: &str) -> Result<()> {
    let source = dir.join("Cargo.lock.workspace");
    if dir.join("Cargo.lock").exists() && fs::read_to_string(&source).ok().as_deref() == Some(lock)
    {
        return Ok(());
    }
    fs::write(dir.join("Cargo.lock"), lock)?;
    fs::write(source, lock)?;
    Ok(())
}

/// The root manifest's `tokio = ...` workspace dependency, verbatim, so the generated crate asks
/// for tokio as micro's users are told to.
fn workspace_tokio(workspace_root: &Path) -> Result<String> {
    let manifest = fs::read_to_string(workspace_root.join("Cargo.toml"))
        .context("reading the workspace's Cargo.toml")?;
    match manifest
        .lines()
        .find_map(|line| line.trim().strip_prefix("tokio ="))
    {
        Some(spec) => Ok(spec.trim().to_owned()),
        None => bail!("no `tokio = ...` line in the workspace's Cargo.toml"),
    }
}

/// `path` as a TOML literal string, which needs no escaping as long as it holds no `'`.
fn toml_path(path: &Path) -> Result<String> {
    let text = path.to_str().context("workspace path is not UTF-8")?;
    if text.contains(['\'', '\n']) {
        bail!("workspace path {text:?} cannot be written into a Cargo.toml as is");
    }
    Ok(format!("'{text}'"))
}

/// Protos left from a run with more files (a full run before a quick one).
fn remove_stale_protos(proto_dir: &Path, keep: &[String]) -> Result<()> {
    for entry in fs::read_dir(proto_dir)? {
        let path = entry?.path();
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if path.extension().is_some_and(|e| e == "proto") && !keep.iter().any(|k| k == stem) {
            fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Writes `contents` unless the file already holds exactly that: an untouched mtime is what
/// lets cargo keep the build script's and the crate's outputs fresh between bench runs.
pub fn write_if_changed(path: &Path, contents: &str) -> Result<()> {
    if fs::read_to_string(path).ok().as_deref() == Some(contents) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}
