//! Generates the example services from `proto/`, exactly as a user's build.rs would.

fn main() -> Result<(), micro_build::Error> {
    micro_build::compile_protos(
        &[
            "../proto/greeter.proto",
            "../proto/streaming.proto",
            "../proto/events.proto",
        ],
        &["../proto"],
    )
}
