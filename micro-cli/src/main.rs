//! `micro`: see and call the services of a micro or go-micro system by name, from a terminal.
//!
//! Everything it knows comes from the registry the services use (mDNS, etcd) and from go-micro's
//! wire, so it works the same against Rust and Go services. Each command is one module; `failure`
//! maps what went wrong to the exit codes the help lists.

mod api;
mod call;
mod config;
mod describe;
mod failure;
mod fields;
mod health;
mod lookup;
mod new;
mod pubsub;
mod register;
mod schema;
mod services;
mod stream;
mod watch;
mod web;

use std::io::Write;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use clap_complete::Shell;

use crate::failure::Failure;

const EXAMPLES: &str = "\
Examples:
  micro services
  micro describe greeter
  micro call greeter Greeter.Hello '{\"name\": \"John\"}'
  micro call greeter Greeter.Hello --name=John
  echo '{\"name\": \"John\"}' | micro call greeter Greeter.Hello -
  micro stream streamer Streamer.Countdown '{\"from\": 3}'
  micro health greeter
  micro publish orders '{\"id\": 7}'
  micro subscribe orders
  micro watch
  micro register payments.json --ttl 60s
  micro api                      # then: curl -d '{\"name\": \"John\"}' 127.0.0.1:8080/greeter/hello
  micro web                      # the dashboard, on http://127.0.0.1:8082
  micro new orders && cd orders && cargo run
  MICRO_REGISTRY=etcd MICRO_REGISTRY_ADDRESS=127.0.0.1:2379 micro services

Exit codes:
  0  success
  1  the service answered with an error, or another failure
  2  bad usage or a request refused before sending (bad JSON, a field the schema lacks)
  3  not found: no such service or endpoint
  4  timed out
  5  unreachable: the registry or every node
  130  interrupted by Ctrl-C (watch, subscribe, api and web end with 0: Ctrl-C is how they stop)";

/// The micro command line: services, their schemas and calls, found by name in the registry.
#[derive(Debug, Parser)]
#[command(name = "micro", version, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    global: config::Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every service in the registry, with its versions and node counts.
    #[command(after_help = "Example:\n  micro services\n  micro services -o json")]
    Services,
    /// A service's nodes and endpoints, with request and response schemas.
    #[command(after_help = "Example:\n  micro describe greeter\n  micro describe greeter -o json")]
    Describe {
        /// The service name.
        name: String,
    },
    /// `micro get service NAME`: describe, as the Micro toolkit spells it.
    #[command(after_help = "Example:\n  micro get service greeter")]
    Get {
        #[command(subcommand)]
        what: Get,
    },
    /// Calls an endpoint with a JSON request and prints the reply.
    #[command(after_help = call::EXAMPLES)]
    Call(call::Args),
    /// Streams to and from an endpoint: JSON lines in on stdin, one JSON line out per reply.
    #[command(after_help = stream::EXAMPLES)]
    Stream(stream::Args),
    /// Calls `Debug.Health` on every node of a service.
    #[command(after_help = "Example:\n  micro health greeter")]
    Health {
        /// The service name.
        name: String,
    },
    /// Publishes a JSON message on a topic, with go-micro's headers.
    #[command(after_help = "Example:\n  micro publish orders '{\"id\": 7}' -m Trace-Id=abc")]
    Publish(pubsub::PublishArgs),
    /// Prints each message on a topic, with its headers, as it arrives.
    #[command(
        after_help = "Example:\n  micro subscribe orders\n  micro subscribe orders --queue workers -o json"
    )]
    Subscribe(pubsub::SubscribeArgs),
    /// Prints registry events (create, update, delete) as they happen, one line each.
    #[command(after_help = "Example:\n  micro watch\n  micro watch greeter -o json")]
    Watch {
        /// Only this service's events.
        service: Option<String>,
    },
    /// Registers a service record from a file, in go-micro's JSON form.
    #[command(after_help = "Example:\n  micro register payments.json --ttl 60s")]
    Register {
        /// The record: {"name", "version", "endpoints", "nodes": [{"id", "address", "metadata"}]}.
        file: String,
        /// How long the registry keeps the nodes without a new registration (`30s`, `5m`);
        /// without it, until deregistered.
        #[arg(long, value_parser = call::duration)]
        ttl: Option<Duration>,
    },
    /// Deregisters the nodes of a service record file.
    #[command(after_help = "Example:\n  micro deregister payments.json")]
    Deregister {
        /// The record, as given to `micro register`.
        file: String,
    },
    /// Serves the HTTP gateway: any HTTP client calls services by name.
    #[command(after_help = api::EXAMPLES)]
    Api(api::Args),
    /// Serves the dashboard: services live, call forms, streams, health, topics.
    #[command(after_help = web::EXAMPLES)]
    Web(web::Args),
    /// Creates a service crate that builds and runs as it is.
    #[command(
        after_help = "Example:\n  micro new orders && cd orders && cargo run\n  micro new orders --path services --no-git"
    )]
    New(new::Args),
    /// Prints a shell completion script.
    #[command(
        after_help = "Example:\n  micro completions bash > ~/.local/share/bash-completion/completions/micro"
    )]
    Completions {
        /// The shell.
        shell: Shell,
    },
}

#[derive(Debug, Subcommand)]
enum Get {
    /// A service's nodes and endpoints (the same as `micro describe`).
    Service {
        /// The service name.
        name: String,
    },
}

fn main() {
    // `micro call`'s field flags (`--name=John`) are not clap's: they come from the schema.
    let mut command = Cli::command();
    command.build();
    let (args, fields) = fields::extract(std::env::args().collect(), &command);
    let mut cli = Cli::parse_from(args);
    if let Command::Call(call) = &mut cli.command {
        call.fields = fields;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    // watch, subscribe and api stop on Ctrl-C by design, cleanly; every other command is cut
    // short by it.
    let interruptible = !matches!(
        cli.command,
        Command::Watch { .. } | Command::Subscribe(_) | Command::Api(_) | Command::Web(_)
    );
    let outcome = runtime.block_on(async {
        if !interruptible {
            return run(cli).await;
        }
        tokio::select! {
            outcome = run(cli) => outcome,
            _ = tokio::signal::ctrl_c() => Err(Failure::Interrupted),
        }
    });
    // Drop every task now, without waiting for the blocking pool: a stream's writer task drops
    // its connection, so a stream left before its end is reset and the server stops its handler
    // (see micro-runtime's transport/hang_up.rs), whichever way the command ended.
    runtime.shutdown_background();
    let code = match outcome {
        Ok(()) => 0,
        Err(failure) => {
            failure.report();
            failure.exit_code()
        }
    };
    let _ = std::io::stdout().flush();
    // Exit rather than return: the blocking pool may still wait on a read of stdin (`micro stream`
    // interrupted while typing), that is until Enter.
    std::process::exit(code);
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let global = cli.global;
    match cli.command {
        Command::Services => services::run(&global).await,
        Command::Describe { name }
        | Command::Get {
            what: Get::Service { name },
        } => describe::run(&global, &name).await,
        Command::Call(args) => call::run(&global, args).await,
        Command::Stream(args) => stream::run(&global, args).await,
        Command::Health { name } => health::run(&global, &name).await,
        Command::Publish(args) => pubsub::publish(&global, args).await,
        Command::Subscribe(args) => pubsub::subscribe(&global, args).await,
        Command::Watch { service } => watch::run(&global, service.as_deref()).await,
        Command::Register { file, ttl } => register::register(&global, &file, ttl).await,
        Command::Deregister { file } => register::deregister(&global, &file).await,
        Command::Api(args) => api::run(&global, args).await,
        Command::Web(args) => web::run(&global, args).await,
        Command::New(args) => new::run(args),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "micro", &mut std::io::stdout());
            Ok(())
        }
    }
}
