//! `micro api`: the HTTP gateway (the `micro-gateway` crate) on the registry the global options
//! name, until Ctrl-C or SIGTERM.

use std::time::Duration;

use micro_gateway::{Gateway, GatewayOptions, options::DEFAULT_METADATA_HEADERS};
use tokio::net::TcpListener;

use crate::config::Global;
use crate::failure::Failure;

pub const EXAMPLES: &str = "\
Examples:
  micro api
  curl -d '{\"name\": \"John\"}' http://127.0.0.1:8080/greeter/hello
  curl http://127.0.0.1:8080/greeter/Greeter.Hello?name=John
  curl -d '{\"service\": \"greeter\", \"endpoint\": \"Greeter.Hello\", \"request\": {\"name\": \"John\"}}' \\
       http://127.0.0.1:8080/rpc
  micro api --address 127.0.0.1:9000 --cors http://localhost:3000 --namespace go.micro.api

Paths: /foo/bar calls service foo, endpoint Foo.Bar; /foo calls Foo.Call; /v1/foo/bar calls
v1.foo, Foo.Bar; /a/b/c/d calls a.b, C.D; /foo/Foo.Bar calls Foo.Bar as written; a
Micro-Endpoint header names the endpoint of the service the path names. A service's error comes
back with its code as the HTTP status and go-micro's error JSON as the body.";

/// The arguments of `micro api`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to listen. Loopback by default: serving other machines is a deliberate choice, as
    /// the gateway checks no credentials.
    #[arg(long, env = "MICRO_API_ADDRESS", default_value = "127.0.0.1:8080")]
    address: String,
    #[command(flatten)]
    gateway: GatewayArgs,
}

/// How the gateway behaves: `micro api`'s options, and `micro web`'s for the gateway it serves
/// under `/api`.
#[derive(Debug, clap::Args)]
pub struct GatewayArgs {
    /// Prefixed to every service name a path resolves to (`go.micro.api`).
    #[arg(long, env = "MICRO_API_NAMESPACE")]
    namespace: Option<String>,
    /// Origins allowed to call from browsers, comma-separated (`*` for any); none by default.
    #[arg(long, env = "MICRO_API_CORS", value_delimiter = ',')]
    cors: Vec<String>,
    /// The longest a call may take (a request's `Timeout` header may ask for less).
    #[arg(long, default_value = "10s", value_parser = crate::call::duration)]
    timeout: Duration,
    /// The largest request body, in bytes.
    #[arg(long, default_value_t = 4 << 20)]
    max_body: usize,
    /// Another request header to pass to services as metadata (repeat for more); Authorization,
    /// Traceparent, Tracestate, Baggage and X-Request-Id always are.
    #[arg(long = "header", value_name = "NAME")]
    headers: Vec<String>,
    /// Let `/rpc` send to any `address`, not only to the service's registered nodes.
    #[arg(long)]
    rpc_any_address: bool,
}

impl GatewayArgs {
    /// The gateway for the registry the global options name.
    pub fn gateway(self, global: &Global) -> Result<Gateway, Failure> {
        for origin in &self.cors {
            if origin != "*" && !is_origin(origin) {
                return Err(Failure::Usage(format!(
                    "--cors {origin:?} is not an origin such as https://app.example.com"
                )));
            }
        }
        let registry = global.registry()?;
        let mut headers: Vec<String> = DEFAULT_METADATA_HEADERS
            .iter()
            .map(|h| h.to_string())
            .collect();
        headers.extend(self.headers);
        let options = GatewayOptions::default()
            .namespace(self.namespace)
            .cors(self.cors)
            .timeout(self.timeout)
            .max_body(self.max_body)
            .metadata_headers(headers)
            .rpc_any_address(self.rpc_any_address);
        Ok(Gateway::new(registry, options))
    }
}

pub async fn run(global: &Global, args: Args) -> Result<(), Failure> {
    let gateway = args.gateway.gateway(global)?;
    let listener = listen(&args.address, "micro api", global).await?;
    gateway
        .serve(listener, micro_runtime::service::shutdown_signal())
        .await
        .map_err(|err| Failure::Other(err.to_string()))
}

/// Binds `address`, warns when it is not loopback, and says (on stderr, as `watch` and
/// `subscribe` say they are ready) where it listens, with the port when `:0` asked for any.
pub async fn listen(address: &str, what: &str, global: &Global) -> Result<TcpListener, Failure> {
    let listener = TcpListener::bind(address)
        .await
        .map_err(|err| Failure::Other(format!("cannot listen on {address}: {err}")))?;
    let bound = listener
        .local_addr()
        .map_err(|err| Failure::Other(err.to_string()))?;
    if !bound.ip().is_loopback() {
        eprintln!(
            "{what}: warning: serving {bound} beyond this machine, and the gateway checks no \
             credentials"
        );
    }
    eprintln!(
        "{what} listening on http://{bound} for the {} (Ctrl-C to stop)",
        global.registry_name()
    );
    Ok(listener)
}

/// An origin is a scheme, a host and perhaps a port: nothing after them.
fn is_origin(origin: &str) -> bool {
    origin.split_once("://").is_some_and(|(scheme, rest)| {
        matches!(scheme, "http" | "https")
            && !rest.is_empty()
            && !rest.contains('/')
            && rest.is_ascii()
    })
}
