//! The go-micro wire corpus (`go-micro-wire/`): real bytes sent by go-micro v6.10.0's client,
//! server, brokers and registries, for replay tests. Its README says what each file holds.

use std::path::PathBuf;

/// The corpus folder.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("go-micro-wire")
}

/// The bytes of one corpus file, e.g. `read("unary-json/c2s.bin")`. Panics with the path when the
/// file is missing: a replay test must never pass for want of its input.
pub fn read(path: &str) -> Vec<u8> {
    let full = dir().join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("corpus file {}: {e}", full.display()))
}

/// Every scenario folder that holds a `c2s.bin`/`s2c.bin` pair, as `folder` or `parent/folder`.
pub fn scenarios() -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![(dir(), String::new())];
    while let Some((path, name)) = stack.pop() {
        if path.join("c2s.bin").is_file() {
            found.push(name.clone());
        }
        for entry in std::fs::read_dir(&path).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                let child = entry.file_name().to_string_lossy().into_owned();
                let child = if name.is_empty() {
                    child
                } else {
                    format!("{name}/{child}")
                };
                stack.push((entry.path(), child));
            }
        }
    }
    found.sort();
    found
}
