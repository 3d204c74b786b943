//! Running protoc for `build.rs`: .proto files in, a descriptor set out.

use std::path::{Path, PathBuf};
use std::process::Command;

use prost::Message;
use prost_types::FileDescriptorSet;

use crate::error::Error;
use crate::http_rules::HttpRules;

/// `$PROTOC` if set, else the protoc shipped by protoc-bin-vendored, so users install nothing.
pub fn protoc_path() -> Result<PathBuf, Error> {
    if let Some(path) = std::env::var_os("PROTOC") {
        return Ok(PathBuf::from(path));
    }
    protoc_bin_vendored::protoc_bin_path().map_err(|e| {
        Error::new(format!(
            "micro-build: no vendored protoc for this platform ({e}); set PROTOC"
        ))
    })
}

/// Runs protoc on `protos`, returning every file with its imports and source info, and the
/// `google.api.http` rules the descriptors carry.
///
/// protoc's own diagnostics (syntax errors, missing imports, unknown types, duplicate
/// names) are passed through verbatim: they already read `file:line:column: message`.
pub fn descriptor_set(
    protos: &[PathBuf],
    includes: &[PathBuf],
) -> Result<(FileDescriptorSet, HttpRules), Error> {
    let protoc = protoc_path()?;
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("descriptors.bin");
    let mut command = Command::new(&protoc);
    command
        .arg("--include_imports")
        .arg("--include_source_info")
        .arg("-o")
        .arg(&out);
    for include in includes {
        command.arg("-I").arg(include);
    }
    // Last, so users can override the well-known .protos.
    if let Ok(well_known) = protoc_bin_vendored::include_path() {
        command.arg("-I").arg(well_known);
    }
    // micro-build's google/api protos, last, so a googleapis checkout given in `includes` wins.
    let bundled = dir.path().join("include");
    crate::bundled::write_bundled_protos(&bundled)?;
    command.arg("-I").arg(bundled);
    command.args(protos);
    let output = command.output().map_err(|e| {
        Error::new(format!(
            "micro-build: cannot run protoc at {}: {e}",
            protoc.display()
        ))
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(Error::new(format!("protoc failed:\n{}", stderr.trim_end())));
    }
    let bytes = std::fs::read(&out)?;
    let set = FileDescriptorSet::decode(bytes.as_slice()).map_err(|e| {
        Error::new(format!(
            "micro-build: protoc wrote an invalid descriptor set: {e}"
        ))
    })?;
    Ok((set, HttpRules::from_descriptor_set(&bytes)?))
}

/// Where an imported file named `name` (as protoc names it) lives on disk, if in `includes`.
pub fn locate(name: &str, includes: &[PathBuf]) -> Option<PathBuf> {
    includes
        .iter()
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// Whether the proto package is mapped to existing Rust code by an extern path.
pub fn is_extern(package: &str, extern_paths: &[(String, String)]) -> bool {
    let package = format!(".{package}");
    extern_paths
        .iter()
        .any(|(proto, _)| package == *proto || package.starts_with(&format!("{proto}.")))
}

/// Owned copies of the caller's paths (protos must lie under one of the include dirs).
pub fn owned(paths: &[impl AsRef<Path>]) -> Vec<PathBuf> {
    paths.iter().map(|p| p.as_ref().to_path_buf()).collect()
}
