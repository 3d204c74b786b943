//! The quick start: a service and a call to it, in one process.
//!
//! ```text
//! cargo run -p examples --bin greeter
//! ```
//! prints `Hello John`.

use examples::Greeter;
use examples::greeter::{GreeterClient, GreeterServer, HelloRequest};
use micro_runtime::Service;
use micro_runtime::registry::shared_memory_registry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging();

    // A service named "greeter": the generated server registers every endpoint of the handler.
    // One process: the process's memory registry. Across processes, leave `.registry` out and
    // the service is found over mDNS, or in etcd with MICRO_REGISTRY=etcd.
    let service = Service::builder("greeter")
        .registry(shared_memory_registry())
        .build()?
        .handle(GreeterServer::new(Greeter));
    // Its client finds services in the same registry, by name.
    let greeter = GreeterClient::new("greeter", service.client());
    let running = service.start().await?;

    let reply = greeter
        .hello(HelloRequest {
            name: "John".into(),
        })
        .await?;
    println!("{}", reply.greeting);

    running.stop().await?;
    Ok(())
}
