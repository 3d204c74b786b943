//! Generates code for every proto the tests use (the repository's `proto/` and their own
//! `tests/proto/`), through micro-build as a user's build.rs would.

fn main() -> Result<(), micro_build::Error> {
    micro_build::compile_protos(
        &[
            "../proto/greeter.proto",
            "../proto/streaming.proto",
            "../proto/nested/api/catalog.proto",
            "../proto/events.proto",
            // The tests' own: NaN and Infinity in every place (tests/json_floats.rs).
            "proto/meter.proto",
        ],
        &["../proto", "proto"],
    )
}
