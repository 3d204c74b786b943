//! A function: the greeter, serving one call and then exiting (go-micro's `micro.NewFunction`).
//!
//! ```text
//! cargo run -p examples --bin function                        # registers over mDNS, waits
//! cargo run -p examples --bin greeter-client                  # in another terminal: Hello John
//! ```
//! After answering, the function deregisters and exits with status 0. With etcd, start both with
//! `MICRO_REGISTRY=etcd`.

use clap::{Arg, Command};
use examples::Greeter;
use examples::greeter::GreeterServer;
use micro_runtime::{Function, Service};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging();
    let args = Command::new("function")
        .about("Serves one greeter call, then exits")
        .arg(
            Arg::new("address")
                .long("address")
                .env("MICRO_SERVER_ADDRESS")
                .default_value("127.0.0.1:0")
                .help("Listen address: host:port, or host:min-max"),
        )
        .get_matches();
    let address = args.get_one::<String>("address").expect("has a default");
    let service = Service::builder("greeter").address(address).build()?;
    Function::new(service)
        .handle(GreeterServer::new(Greeter))
        .run()
        .await?;
    Ok(())
}
