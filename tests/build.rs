//! Generates code for every proto the tests use, through micro-build as a user's build.rs would.

fn main() -> Result<(), micro_build::Error> {
    micro_build::compile_protos(
        &[
            "../proto/greeter.proto",
            "../proto/streaming.proto",
            "../proto/nested/api/catalog.proto",
            "../proto/events.proto",
        ],
        &["../proto"],
    )
}
