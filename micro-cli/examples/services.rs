//! Services to try `micro` against, each in its own process; micro's own tests run them too.
//!
//! ```text
//! cargo run -p micro-cli --example services -- greeter            # Greeter.Hello
//! cargo run -p micro-cli --example services -- greeter v1.greeter # the same, named v1.greeter
//! cargo run -p micro-cli --example services -- streamer           # the three stream kinds
//! cargo run -p micro-cli --example services -- catalog            # HTTP routes (google.api.http)
//! cargo run -p micro-cli --example services -- listener greetings # prints what is published
//! micro services
//! micro call greeter Greeter.Hello --name=John
//! ```
//! - `greeter`: `Greeter.Hello` greets; an empty name is a 400, the name `slow` answers after
//!   400 ms, `echo-metadata` answers with the `Trace-Id` it was sent, and `which-node` with the
//!   service's name.
//! - `streamer`: `Streamer.Countdown` (server stream), `Streamer.Sum` (client stream),
//!   `Streamer.Echo` (bidirectional) and `Streamer.Ping` (unary).
//! - `catalog`: `Catalog.GetItem` (`GET /v1/items/{id}`, `POST /v1/items:get`),
//!   `Catalog.ListItems` (`GET /v1/items`, a server stream) and `Catalog.Clear`
//!   (`DELETE /v1/items`), from `proto/nested/api/catalog.proto`.
//! - `listener TOPIC`: a service subscribed to `TOPIC` that decodes each message as a
//!   `HelloRequest` by its Content-Type and prints `received NAME TRACE-ID`.
//!
//! Each listens on a free loopback port, prints `started NAME NODE-ID ADDRESS` once registered
//! and stops gracefully on Ctrl-C or SIGTERM. The go-micro variables (`MICRO_REGISTRY`,
//! `MICRO_REGISTRY_ADDRESS`, `MICRO_BROKER`, ...) choose the registry and broker, as for any
//! micro service.

use std::io::Write;

use micro_runtime::{Context, Service, service::shutdown_signal};
use tests::handlers::{Catalog, Greeter, Streamer};
use tests::proto::greeter::{GreeterServer, HelloRequest};
use tests::proto::nested::api::v1::CatalogServer;
use tests::proto::streaming::StreamerServer;

const USAGE: &str = "usage: services greeter [NAME] | streamer | catalog | listener TOPIC";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kind = args.first().map(String::as_str).unwrap_or("");
    let service = match kind {
        "greeter" => {
            // Another name serves the same greeter: `services greeter v1.greeter`.
            let name = args.get(1).map_or("greeter", String::as_str);
            let greeter = Greeter {
                node: name.to_string(),
                ..Greeter::default()
            };
            Service::builder(name)
                .address("127.0.0.1:0")
                .build()?
                .handle(GreeterServer::new(greeter))
        }
        "catalog" => Service::builder("catalog")
            .address("127.0.0.1:0")
            .build()?
            .handle(CatalogServer::new(Catalog)),
        "streamer" => Service::builder("streamer")
            .address("127.0.0.1:0")
            .build()?
            .handle(StreamerServer::new(Streamer)),
        "listener" => {
            let topic = args.get(1).ok_or_else(|| anyhow::anyhow!(USAGE))?;
            Service::builder("listener")
                .address("127.0.0.1:0")
                .build()?
                .subscribe(topic.clone(), |ctx: Context, m: HelloRequest| async move {
                    let trace = ctx.metadata().get("Trace-Id").unwrap_or("-").to_string();
                    println!("received {} {trace}", m.name);
                    let _ = std::io::stdout().flush();
                    Ok(())
                })
        }
        _ => anyhow::bail!(USAGE),
    };
    let running = service.start().await?;
    let node = running.node();
    println!("started {kind} {} {}", node.id, node.address);
    std::io::stdout().flush()?;
    shutdown_signal().await;
    running.stop().await?;
    println!("stopped");
    Ok(())
}
