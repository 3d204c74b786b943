//! `protoc-gen-micro`: micro's protoc plugin.
//!
//! `protoc --plugin=protoc-gen-micro=PATH --micro_out=OUT -I proto proto/greeter.proto`
//! writes the same `<package>.rs` files as `micro_build::compile_protos` in a build script.
//! Options (`--micro_opt=a,b=c`): `services_only`, `no_include`, `no_client`, `no_server`,
//! `include_file=NAME`, `default_package_filename=NAME`, `extern_path=.pkg=::rust::path`,
//! `type_attribute=PATH=ATTR`, `field_attribute=PATH=ATTR`.
//!
//! `protoc-gen-micro --protos DIR` writes micro's `google/api/annotations.proto` and
//! `http.proto` under DIR, for `-I DIR` when a .proto declares HTTP routes (`google.api.http`)
//! and no googleapis checkout is at hand.

use std::io::{Read, Write};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => {}
        [flag, dir] if flag == "--protos" => {
            micro_build::write_bundled_protos(std::path::Path::new(dir))?;
            println!(
                "wrote google/api/annotations.proto and google/api/http.proto under {dir}; pass -I {dir} to protoc"
            );
            return Ok(());
        }
        _ => {
            eprintln!("usage: protoc-gen-micro (run by protoc), or protoc-gen-micro --protos DIR");
            std::process::exit(2);
        }
    }
    let mut request = Vec::new();
    std::io::stdin().read_to_end(&mut request)?;
    // Generation errors travel in the response; only I/O failures end the process badly.
    let response = micro_build::plugin::execute(&request);
    std::io::stdout().write_all(&response)
}
