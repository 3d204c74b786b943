//! `micro web`: the dashboard (the `micro-gateway` crate's `Dashboard`), with the gateway under
//! `/api`, on the registry and broker the global options name, until Ctrl-C or SIGTERM.

use micro_gateway::Dashboard;

use crate::api::{GatewayArgs, listen};
use crate::config::Global;
use crate::failure::Failure;

pub const EXAMPLES: &str = "\
Examples:
  micro web                       # then open http://127.0.0.1:8082
  micro web --address 127.0.0.1:9000
  MICRO_REGISTRY=etcd micro web

Pages: / lists the services as they come and go; /service/NAME shows nodes, schemas, a call
form for each endpoint, streams and health; /topics publishes and watches topics. The gateway
(micro api) is served under /api.";

/// The arguments of `micro web`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to listen. Loopback by default: the dashboard calls any service and checks no
    /// credentials.
    #[arg(long, env = "MICRO_WEB_ADDRESS", default_value = "127.0.0.1:8082")]
    address: String,
    #[command(flatten)]
    gateway: GatewayArgs,
}

pub async fn run(global: &Global, args: Args) -> Result<(), Failure> {
    let gateway = args.gateway.gateway(global)?;
    let broker = global.broker()?;
    let listener = listen(&args.address, "micro web", global).await?;
    Dashboard::new(gateway, Some(broker))
        .serve(listener, micro_runtime::service::shutdown_signal())
        .await
        .map_err(|err| Failure::Other(err.to_string()))
}
