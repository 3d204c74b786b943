//! Generates the etcd v3 gRPC client when the `etcd` feature is on; does nothing otherwise.
//!
//! The protos in `proto/etcd/` are micro's own minimal description of etcd's API. They are compiled
//! with the protoc binary the protoc-bin-vendored crate ships, handed to prost-build directly, so a
//! crate that enables `etcd` builds on a machine with no protoc and no `PROTOC` variable.

fn main() {
    // Without this, cargo would rerun the script whenever any file of the package changes.
    println!("cargo:rerun-if-changed=build.rs");
    // The generating crates are optional build-dependencies, present only with the feature, so the
    // code is compiled only then (cargo sets `feature = "etcd"` for build scripts too, alongside
    // CARGO_FEATURE_ETCD).
    #[cfg(feature = "etcd")]
    etcd::generate();
}

#[cfg(feature = "etcd")]
mod etcd {
    const PROTO_DIR: &str = "proto/etcd";
    const PROTOS: [&str; 2] = ["proto/etcd/mvccpb.proto", "proto/etcd/etcdserverpb.proto"];

    /// Writes `mvccpb.rs` and `etcdserverpb.rs` to `OUT_DIR`; `registry/etcd/pb.rs` includes them.
    pub(super) fn generate() {
        println!("cargo:rerun-if-changed={PROTO_DIR}");
        let protoc = protoc_bin_vendored::protoc_bin_path().unwrap_or_else(|err| {
            panic!("micro-runtime (feature etcd): no vendored protoc for this platform: {err}")
        });
        let mut config = prost_build::Config::new();
        // Set on the config rather than through PROTOC: a PROTOC in the environment (which may
        // point anywhere, or nowhere) must not matter.
        config.protoc_executable(protoc);
        tonic_prost_build::configure()
            // A client of etcd, never a server.
            .build_server(false)
            .build_client(true)
            // No `connect` helpers: the registry builds its own balanced channel.
            .build_transport(false)
            .compile_with_config(config, &PROTOS, &[PROTO_DIR])
            .unwrap_or_else(|err| {
                panic!("micro-runtime (feature etcd): compiling {PROTO_DIR}: {err}")
            });
    }
}
