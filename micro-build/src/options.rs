//! What the generator can be asked to do; shared by `build.rs` and the protoc plugin.

/// Where generated code finds the well-known types (pbjson-types, with serde impls).
pub const WELL_KNOWN_TYPES: &str = "::micro_runtime::codegen::well_known";

/// Where generated code finds prost (its derives are told with `prost_path`).
pub const PROST_PATH: &str = "::micro_runtime::codegen::prost";

/// The include file `build.rs` writes unless told otherwise; `micro_runtime::include_protos!()`
/// includes it.
pub const DEFAULT_INCLUDE_FILE: &str = "_micro_includes.rs";

/// Generator options. Start from [`Options::default`] and set fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Generate `XClient` (default `true`).
    pub build_client: bool,
    /// Generate `XServer` (default `true`).
    pub build_server: bool,
    /// Emit only service code, into `<package>.micro.rs`, to pair with protoc-gen-prost.
    pub services_only: bool,
    /// `(proto path, Rust path)` pairs, on top of `.google.protobuf` → [`WELL_KNOWN_TYPES`].
    pub extern_paths: Vec<(String, String)>,
    /// `(proto path, attribute)` pairs for messages and enums, as prost-build's `type_attribute`.
    pub type_attributes: Vec<(String, String)>,
    /// `(proto path, attribute)` pairs for fields, as prost-build's `field_attribute`.
    pub field_attributes: Vec<(String, String)>,
    /// File stem for files without a `package` (default `_`, giving `_.rs`).
    pub default_package_filename: String,
    /// Also write a module tree including every package file, under this name.
    pub include_file: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            build_client: true,
            build_server: true,
            services_only: false,
            extern_paths: Vec::new(),
            type_attributes: Vec::new(),
            field_attributes: Vec::new(),
            default_package_filename: "_".to_owned(),
            include_file: None,
        }
    }
}

/// One output file: a name relative to the output directory and its complete content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// `greeter.rs`, `nested.common.v1.rs`, `_micro_includes.rs`, …
    pub name: String,
    /// The file's text, starting with the `@generated` header.
    pub content: String,
}
