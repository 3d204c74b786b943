//! The .proto files micro-build carries: its own `google/api/annotations.proto` and
//! `google/api/http.proto` (see `http_rules`), so a .proto can declare HTTP routes with nothing
//! else installed. `build.rs` users get them on protoc's include path on their own; protoc plugin
//! users write them out with `protoc-gen-micro --protos DIR` and pass `-I DIR`.

use std::path::Path;

/// Each bundled file: its import path and its text.
const FILES: [(&str, &str); 2] = [
    (
        "google/api/annotations.proto",
        include_str!("../proto/google/api/annotations.proto"),
    ),
    (
        "google/api/http.proto",
        include_str!("../proto/google/api/http.proto"),
    ),
];

/// Writes the bundled .proto files under `dir` (`dir/google/api/...`), for protoc's `-I dir`.
pub fn write_bundled_protos(dir: &Path) -> std::io::Result<()> {
    for (name, text) in FILES {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
    }
    Ok(())
}
