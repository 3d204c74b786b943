//! Generates the fuzzed message type through micro-build, as a user's build.rs would.

fn main() -> Result<(), micro_build::Error> {
    micro_build::compile_protos(&["proto/everything.proto"], &["proto"])
}
