//! Calls the greeter service started by `greeter-server`, found by name.
//!
//! ```text
//! cargo run -p examples --bin greeter-client                        # finds it over mDNS
//! MICRO_REGISTRY=etcd cargo run -p examples --bin greeter-client    # finds it in etcd
//! cargo run -p examples --bin greeter-client -- --address 127.0.0.1:8080 --name Ann
//! ```
//! The registry comes from `MICRO_REGISTRY` (mDNS when unset), as for the server; `--address`
//! skips the registry.

use std::time::Duration;

use clap::{Arg, Command};
use examples::greeter::{GreeterClient, HelloRequest};
use micro_runtime::{CallOptions, Service};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging();
    let args =
        Command::new("greeter-client")
            .about("Calls Greeter.Hello")
            .arg(Arg::new("address").long("address").help(
                "Call this address (host:port) instead of finding the service in the registry",
            ))
            .arg(Arg::new("name").long("name").default_value("John"))
            .get_matches();

    let service = Service::builder("greeter-client").build()?;
    let greeter = GreeterClient::new("greeter", service.client());
    let mut options = CallOptions::new().timeout(Duration::from_secs(5));
    if let Some(address) = args.get_one::<String>("address") {
        options = options.address(address);
    }
    let name = args
        .get_one::<String>("name")
        .expect("has a default")
        .clone();
    match greeter.hello_with(HelloRequest { name }, options).await {
        Ok(reply) => println!("{}", reply.greeting),
        Err(err) => anyhow::bail!("call failed: {err}"),
    }
    Ok(())
}
