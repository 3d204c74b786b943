//! The `build.rs` front end: run protoc, generate, write into `OUT_DIR`.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::generator::generate;
use crate::options::{DEFAULT_INCLUDE_FILE, GeneratedFile, Options};
use crate::protoc;

/// Configures code generation for a build script; see [`configure`](crate::configure).
#[derive(Debug, Clone)]
pub struct Builder {
    options: Options,
    out_dir: Option<PathBuf>,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            options: Options {
                include_file: Some(DEFAULT_INCLUDE_FILE.to_owned()),
                ..Options::default()
            },
            out_dir: None,
        }
    }
}

impl Builder {
    /// Writes into `dir` instead of `$OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Whether to generate `XClient` types (default `true`).
    pub fn build_client(mut self, enabled: bool) -> Self {
        self.options.build_client = enabled;
        self
    }

    /// Whether to generate `XServer` types (default `true`). Handler traits and
    /// descriptors are generated either way.
    pub fn build_server(mut self, enabled: bool) -> Self {
        self.options.build_server = enabled;
        self
    }

    /// Uses existing Rust types for a proto package or type (`".my.pkg"`, `"::my_crate::pkg"`)
    /// instead of generating them; that package gets no output file.
    pub fn extern_path(
        mut self,
        proto_path: impl Into<String>,
        rust_path: impl Into<String>,
    ) -> Self {
        self.options
            .extern_paths
            .push((proto_path.into(), rust_path.into()));
        self
    }

    /// Adds an attribute to matching messages and enums, as prost-build's `type_attribute`.
    pub fn type_attribute(mut self, path: impl Into<String>, attribute: impl Into<String>) -> Self {
        self.options
            .type_attributes
            .push((path.into(), attribute.into()));
        self
    }

    /// Adds an attribute to matching fields, as prost-build's `field_attribute`.
    pub fn field_attribute(
        mut self,
        path: impl Into<String>,
        attribute: impl Into<String>,
    ) -> Self {
        self.options
            .field_attributes
            .push((path.into(), attribute.into()));
        self
    }

    /// Names the include file (default `_micro_includes.rs`, which
    /// `micro_runtime::include_protos!()` includes).
    pub fn include_file(mut self, name: impl Into<String>) -> Self {
        self.options.include_file = Some(name.into());
        self
    }

    /// Generates code for `protos` (and the packages they import) into the output directory.
    ///
    /// Emits `cargo:rerun-if-changed` for every input and imported file found under
    /// `includes`. Fails with protoc's diagnostics or micro's own checks, naming the file.
    pub fn compile_protos(
        &self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<(), Error> {
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| Error::new("micro-build: OUT_DIR is not set; call out_dir()"))?,
        };
        let includes = protoc::owned(includes);
        let files = self.generate_with(&protoc::owned(protos), &includes, true)?;
        std::fs::create_dir_all(&out_dir)?;
        for file in files {
            write_if_changed(&out_dir.join(&file.name), &file.content)?;
        }
        Ok(())
    }

    /// Generates code for `protos` without writing it: the files `compile_protos` would write.
    pub fn generate(
        &self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<Vec<GeneratedFile>, Error> {
        self.generate_with(&protoc::owned(protos), &protoc::owned(includes), false)
    }

    fn generate_with(
        &self,
        protos: &[PathBuf],
        includes: &[PathBuf],
        rerun: bool,
    ) -> Result<Vec<GeneratedFile>, Error> {
        let (fds, http) = protoc::descriptor_set(protos, includes)?;
        if rerun && std::env::var_os("OUT_DIR").is_some() {
            let imported = fds
                .file
                .iter()
                .filter_map(|f| protoc::locate(f.name(), includes));
            let watched: std::collections::BTreeSet<PathBuf> =
                protos.iter().cloned().chain(imported).collect();
            for path in watched {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
        // Like prost-build, imported packages are generated too, so their paths resolve;
        // packages mapped to existing code (well-known types, extern paths) are not.
        let mut extern_paths = self.options.extern_paths.clone();
        extern_paths.push((".google.protobuf".to_owned(), String::new()));
        let to_generate: Vec<String> = fds
            .file
            .iter()
            .filter(|f| !protoc::is_extern(f.package(), &extern_paths))
            // The google.api.http option's own files declare no types a service uses.
            .filter(|f| {
                !matches!(
                    f.name(),
                    "google/api/annotations.proto" | "google/api/http.proto"
                )
            })
            .map(|f| f.name().to_owned())
            .collect();
        generate(&fds, &to_generate, &self.options, &http)
    }
}

/// Leaves unchanged files alone, so cargo does not rebuild what includes them.
fn write_if_changed(path: &Path, content: &str) -> std::io::Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == content.as_bytes()) {
        return Ok(());
    }
    std::fs::write(path, content)
}
