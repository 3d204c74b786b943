//! # micro-build
//!
//! Code generation for micro: prost messages, proto3-JSON serde impls, and for every
//! service a handler trait, a typed client, a server adapter and an endpoint descriptor.
//! It runs from `build.rs` ([`compile_protos`], [`configure`]) or as the protoc plugin
//! `protoc-gen-micro` ([`plugin::execute`]); both use the same generator and write the
//! same bytes.
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), micro_build::Error> {
//!     micro_build::compile_protos(&["proto/greeter.proto"], &["proto"])
//! }
//! ```
//!
//! ```ignore
//! // src/lib.rs: mounts every generated package (`greeter::GreeterClient`, ...).
//! micro_runtime::include_protos!();
//! ```
//!
//! protoc comes from protoc-bin-vendored unless `PROTOC` is set, so nothing needs
//! installing. Generated code reaches prost, serde, pbjson and the runtime only through
//! `::micro_runtime::codegen`, so a crate using it depends on micro-runtime alone.
//!
//! ## Output
//!
//! One `<package>.rs` per proto package (`greeter.rs`, `nested.common.v1.rs`, `_.rs` without
//! a package), plus the include file [`DEFAULT_INCLUDE_FILE`] (`_micro_includes.rs`): a module
//! tree that mounts each package at its path, so cross-package `super::` paths resolve.
//!
//! Endpoint names are `GoCamelCase(service) + "." + GoCamelCase(rpc)` (`Catalog.GetItem` for
//! `rpc get_item`), one string for client and server. go-micro's generator uses the rpc
//! name as written on the client, which breaks snake_case rpcs; Go servers register the
//! CamelCase form, which is what micro calls.
//!
//! ## Layout
//!
//! - `builder`: the `build.rs` front end ([`Builder`]); `protoc`: running protoc.
//! - `plugin`, `params`: the protoc plugin front end and its `--micro_opt` options.
//! - `generator`: the one core; `options`: what it can be asked.
//! - `check`: input it refuses (editions, clashing names).
//! - `model`: the neutral service description; `descriptor`: endpoint value trees;
//!   `described`: the same trees attached to every message, for subscribers.
//! - `service`, `client`: the code templates; `naming`: Go-compatible names.
//! - `paths`, `docs`: rewrites of the generated syntax tree; `include`: the module tree.

mod builder;
mod bundled;
mod check;
mod client;
mod described;
mod descriptor;
mod docs;
mod error;
mod generator;
mod http_rules;
mod include;
mod model;
mod naming;
mod options;
mod params;
mod paths;
pub mod plugin;
mod protoc;
mod service;

pub use builder::Builder;
pub use bundled::write_bundled_protos;
pub use error::Error;
pub use generator::{HEADER, generate};
pub use http_rules::{Binding, HttpRules};
pub use naming::go_camel_case;
pub use options::{DEFAULT_INCLUDE_FILE, GeneratedFile, Options, PROST_PATH, WELL_KNOWN_TYPES};

use std::path::Path;

/// Generates code for `protos`, found under `includes`, into `$OUT_DIR` with the default
/// options: client and server, and the include file `_micro_includes.rs`.
///
/// Fails, naming the file, on protoc errors (syntax, imports, unknown types), on editions
/// files and on rpcs that would share an endpoint name or a Rust method name.
pub fn compile_protos(
    protos: &[impl AsRef<Path>],
    includes: &[impl AsRef<Path>],
) -> Result<(), Error> {
    configure().compile_protos(protos, includes)
}

/// A [`Builder`] with the default options, for build scripts that need more control.
pub fn configure() -> Builder {
    Builder::default()
}
