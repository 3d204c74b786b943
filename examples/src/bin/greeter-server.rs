//! The greeter service, for a second terminal or curl.
//!
//! ```text
//! cargo run -p examples --bin greeter-server                  # listens on 127.0.0.1:8080, registers over mDNS
//! cargo run -p examples --bin greeter-client                  # in another terminal: finds it by name
//! curl -XPOST -H 'Content-Type: application/json' -H 'Micro-Endpoint: Greeter.Hello' \
//!      -d '{"name":"John"}' http://127.0.0.1:8080
//! ```
//! With etcd instead of mDNS, start both with `MICRO_REGISTRY=etcd` (and
//! `MICRO_REGISTRY_ADDRESS=host:port` if etcd is not on `127.0.0.1:2379`).
//!
//! Stop it with Ctrl-C: it deregisters, serves a moment longer while clients drop it, finishes
//! calls in flight and exits. As everywhere in micro, what is given wins over the environment:
//! `--address`, else `MICRO_SERVER_ADDRESS`, else `127.0.0.1:8080`; the other go-micro variables
//! fill in the rest.

use clap::{Arg, Command};
use examples::Greeter;
use examples::greeter::GreeterServer;
use micro_runtime::Service;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging();
    let args = Command::new("greeter-server")
        .about("Serves the greeter service")
        .arg(
            Arg::new("address")
                .long("address")
                .env("MICRO_SERVER_ADDRESS")
                .default_value("127.0.0.1:8080")
                .help(
                    "Listen address: host:port, or host:min-max for the first free port of a range",
                ),
        )
        .get_matches();
    let address = args.get_one::<String>("address").expect("has a default");

    Service::builder("greeter")
        .address(address)
        .build()?
        .handle(GreeterServer::new(Greeter))
        .run()
        .await?;
    Ok(())
}
