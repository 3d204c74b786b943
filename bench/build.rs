//! Generates the benchmark services twice from the same protos: once with micro-build, once with
//! tonic-prost-build (into `$OUT_DIR/tonic`, so the two never overwrite each other).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["../proto/greeter.proto", "../proto/streaming.proto"];
    micro_build::compile_protos(&protos, &["../proto"])?;

    let tonic_out = PathBuf::from(std::env::var("OUT_DIR")?).join("tonic");
    std::fs::create_dir_all(&tonic_out)?;
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .out_dir(&tonic_out)
        .compile_with_config(config, &protos, &["../proto"])?;
    Ok(())
}
