//! Generates the example services from `proto/`, exactly as a user's build.rs would.

fn main() -> std::io::Result<()> {
    micro_build::compile_protos(
        &["../proto/greeter.proto", "../proto/streaming.proto"],
        &["../proto"],
    )
}
