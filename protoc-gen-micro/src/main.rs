//! `protoc-gen-micro`: micro's protoc plugin.
//!
//! `protoc --plugin=protoc-gen-micro=PATH --micro_out=OUT -I proto proto/greeter.proto`
//! writes the same `<package>.rs` files as `micro_build::compile_protos` in a build script.
//! Options (`--micro_opt=a,b=c`): `services_only`, `no_include`, `no_client`, `no_server`,
//! `include_file=NAME`, `default_package_filename=NAME`, `extern_path=.pkg=::rust::path`,
//! `type_attribute=PATH=ATTR`, `field_attribute=PATH=ATTR`.

use std::io::{Read, Write};

fn main() -> std::io::Result<()> {
    let mut request = Vec::new();
    std::io::stdin().read_to_end(&mut request)?;
    // Generation errors travel in the response; only I/O failures end the process badly.
    let response = micro_build::plugin::execute(&request);
    std::io::stdout().write_all(&response)
}
