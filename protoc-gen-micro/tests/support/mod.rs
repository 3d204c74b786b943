//! Running the real vendored protoc with the built plugin.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).to_path_buf()
}

/// `proto/` in the workspace.
pub fn proto_dir() -> PathBuf {
    workspace().join("proto")
}

/// The protos of the identity test: greeter, streaming and everything under nested/.
pub fn valid_protos() -> Vec<PathBuf> {
    let mut protos = vec![
        proto_dir().join("greeter.proto"),
        proto_dir().join("streaming.proto"),
    ];
    let mut dirs = vec![proto_dir().join("nested")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "proto") {
                protos.push(path);
            }
        }
    }
    protos.sort();
    protos
}

/// Runs protoc with `args` (output flags), the plugin registered as both `micro` and
/// `stand_in` (a second, independent plugin slot), `-I proto`, and the google/api protos that
/// `protoc-gen-micro --protos` writes.
pub fn protoc(args: &[String], protos: &[PathBuf]) -> Output {
    let plugin = env!("CARGO_BIN_EXE_protoc-gen-micro");
    let google_api = tempfile::tempdir().unwrap();
    let wrote = Command::new(plugin)
        .arg("--protos")
        .arg(google_api.path())
        .output()
        .expect("run protoc-gen-micro --protos");
    assert!(wrote.status.success(), "{wrote:?}");
    Command::new(protoc_bin_vendored::protoc_bin_path().unwrap())
        .arg(format!("--plugin=protoc-gen-micro={plugin}"))
        .arg(format!("--plugin=protoc-gen-stand_in={plugin}"))
        .args(args)
        .arg("-I")
        .arg(proto_dir())
        .arg("-I")
        .arg(protoc_bin_vendored::include_path().unwrap())
        .arg("-I")
        .arg(google_api.path())
        .args(protos)
        .output()
        .expect("run protoc")
}

/// Every file under `dir`, relative name → bytes, sorted.
pub fn read_dir(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}
