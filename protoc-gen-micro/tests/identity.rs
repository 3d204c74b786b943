//! Both front ends, one generator: protoc-gen-micro and micro-build's `build.rs` API
//! write the same files, byte for byte.

mod support;

use support::{proto_dir, protoc, read_dir, valid_protos};

#[test]
fn plugin_and_build_script_write_identical_files() {
    let plugin_out = tempfile::tempdir().unwrap();
    let build_out = tempfile::tempdir().unwrap();
    let output = protoc(
        &[
            format!("--micro_out={}", plugin_out.path().display()),
            format!(
                "--micro_opt=include_file={}",
                micro_build::DEFAULT_INCLUDE_FILE
            ),
        ],
        &valid_protos(),
    );
    assert!(
        output.status.success(),
        "protoc failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    micro_build::configure()
        .out_dir(build_out.path())
        .compile_protos(&valid_protos(), &[proto_dir()])
        .unwrap();

    let (from_plugin, from_build) = (read_dir(plugin_out.path()), read_dir(build_out.path()));
    let names = |files: &[(String, Vec<u8>)]| files.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&from_plugin),
        names(&from_build),
        "different sets of files"
    );
    assert!(names(&from_plugin).contains(&"nested.common.v1.rs".to_owned()));
    for ((name, plugin), (_, build)) in from_plugin.iter().zip(&from_build) {
        assert!(
            plugin == build,
            "{name} differs between protoc-gen-micro and micro-build"
        );
    }
}
