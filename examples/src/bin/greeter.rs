//! The quick start: a service and a call to it, in one process.
//!
//! ```text
//! cargo run -p examples --bin greeter
//! ```
//! prints `Hello John`.

use examples::Greeter;
use examples::greeter::{GreeterClient, GreeterServer, HelloRequest};
use micro_runtime::Service;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging();

    // A service named "greeter": the generated server registers every endpoint of the handler.
    let service = Service::builder("greeter")
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
