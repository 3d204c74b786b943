//! `micro new NAME`: a service crate that builds and runs as it is: a proto, the build script,
//! a handler, and a `main` that serves it, calls it once by name to show it works, and serves on
//! until Ctrl-C.

use std::path::{Path, PathBuf};

use crate::failure::Failure;

/// Where generated crates get micro from when this binary's own checkout is gone.
const MICRO_GIT: &str = "https://github.com/micro-rs/micro";

/// The arguments of `micro new`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The service name, which is also the crate's: lowercase letters, digits and `-`.
    name: String,
    /// The directory to create the crate in [default: the current one].
    #[arg(long)]
    path: Option<PathBuf>,
    /// A micro checkout for path dependencies [default: the one this binary was built from, or
    /// else micro's git repository].
    #[arg(long)]
    micro: Option<PathBuf>,
    /// Does not run `git init`.
    #[arg(long = "no-git")]
    no_git: bool,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let name = args.name.as_str();
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(Failure::Usage(format!(
            "{name:?} is not a service name: use lowercase letters, digits and -, starting with a letter"
        )));
    }
    let dir = args.path.unwrap_or_else(|| PathBuf::from(".")).join(name);
    if dir.exists() {
        return Err(Failure::Usage(format!("{} already exists", dir.display())));
    }
    let micro = args.micro.or_else(own_checkout);
    let files = files(name, micro.as_deref());
    for (path, text) in &files {
        let path = dir.join(path);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, text));
        written.map_err(|e| Failure::Other(format!("cannot write {}: {e}", path.display())))?;
    }
    if !args.no_git {
        let init = std::process::Command::new("git")
            .args(["init", "--quiet"])
            .current_dir(&dir)
            .status();
        if !init.is_ok_and(|status| status.success()) {
            eprintln!(
                "micro: git init failed in {}; the crate is there without it",
                dir.display()
            );
        }
    }
    eprintln!(
        "created {}: cd {} && cargo run",
        dir.display(),
        dir.display()
    );
    Ok(())
}

/// The checkout this binary was built from, while it still exists.
fn own_checkout() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    root.join("micro-runtime/Cargo.toml")
        .exists()
        .then(|| root.to_path_buf())
}

/// `my-service` → `MyService`.
fn pascal(name: &str) -> String {
    name.split(['-', '_'])
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or(String::new(), |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// The crate's files, relative to its directory.
fn files(name: &str, micro: Option<&Path>) -> Vec<(String, String)> {
    let package = name.replace('-', "_");
    let service = pascal(name);
    let dependency = |krate: &str| match micro {
        Some(root) => format!("{{ path = {:?} }}", root.join(krate).display().to_string()),
        None => format!("{{ git = {MICRO_GIT:?} }}"),
    };
    let manifest = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

[dependencies]
micro-runtime = {runtime}
tokio = {{ version = "1", features = ["macros", "rt-multi-thread"] }}

[build-dependencies]
micro-build = {build}
"#,
        runtime = dependency("micro-runtime"),
        build = dependency("micro-build"),
    );
    let proto = format!(
        r#"syntax = "proto3";

package {package};

// The {name} service.
service {service} {{
  // Greets the caller by name.
  rpc Call(CallRequest) returns (CallResponse);
}}

message CallRequest {{
  string name = 1;
}}

message CallResponse {{
  string msg = 1;
}}
"#
    );
    let build = format!(
        r#"fn main() -> Result<(), micro_build::Error> {{
    micro_build::compile_protos(&["proto/{package}.proto"], &["proto"])
}}
"#
    );
    let main = format!(
        r#"//! The {name} service: serves `{service}.Call` until Ctrl-C.

mod proto {{
    micro_runtime::include_proto!("{package}");
}}

use micro_runtime::{{Context, Error, Service}};
use proto::{{CallRequest, CallResponse, {service}Client, {service}Handler, {service}Server}};

struct Handler;

impl {service}Handler for Handler {{
    async fn call(&self, _ctx: Context, req: CallRequest) -> Result<CallResponse, Error> {{
        if req.name.is_empty() {{
            return Err(Error::bad_request("name must not be empty"));
        }}
        Ok(CallResponse {{
            msg: format!("Hello {{}}", req.name),
        }})
    }}
}}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {{
    // Registry, broker and address come from MICRO_* variables; the default registry is mDNS.
    let service = Service::builder("{name}")
        .build()?
        .handle({service}Server::new(Handler));
    let client = {service}Client::new("{name}", service.client());
    let running = service.start().await?;
    // One call by name, to show the service works.
    let reply = client.call(CallRequest {{ name: "John".into() }}).await?;
    println!("{{}}", reply.msg);
    micro_runtime::service::shutdown_signal().await;
    running.stop().await?;
    Ok(())
}}
"#
    );
    let readme = format!(
        r#"# {name}

A micro service, made by `micro new {name}`.

```sh
cargo run                                                  # serves until Ctrl-C; prints Hello John
micro call {name} {service}.Call '{{"name": "John"}}'      # from another terminal
```

The API is in `proto/{package}.proto`; the handler in `src/main.rs`.
"#
    );
    [
        ("Cargo.toml".to_string(), manifest),
        ("build.rs".to_string(), build),
        ("src/main.rs".to_string(), main),
        (format!("proto/{package}.proto"), proto),
        ("README.md".to_string(), readme),
        (".gitignore".to_string(), "/target\n".to_string()),
    ]
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_rust_and_proto_names() {
        assert_eq!(pascal("my-service"), "MyService");
        let written = files("my-service", Some(Path::new("/m")));
        let manifest = &written[0].1;
        assert!(manifest.contains(r#"micro-runtime = { path = "/m/micro-runtime" }"#));
        assert!(written.iter().any(|(p, _)| p == "proto/my_service.proto"));
        let git = files("x", None);
        assert!(git[0].1.contains(MICRO_GIT));
    }
}
