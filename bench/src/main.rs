//! `micro-bench`: micro against tonic and a raw TCP echo, and micro's brokers against NATS, side
//! by side in one run.
//!
//! ```text
//! cargo run --release -p micro-bench -- [--quick] [--only unary] [--reps N] [--out FILE]
//! ```
//! The parent process runs every scenario, starting a fresh server process and a separate load
//! process for each measurement (the hidden `serve` and `load` subcommands of this binary; for
//! pub/sub, `subscribe` and `publish`), and writes `bench/results/latest.json`, a Markdown table
//! and an SVG chart beside it.
//! See BENCHMARKS.md at the repository root.

mod chart;
mod codegen;
mod gateway;
mod load;
mod orchestrate;
mod procstat;
mod proto;
mod pubsub;
mod record;
mod report;
mod systems;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::orchestrate::Plan;
use crate::record::Record;
use crate::systems::{System, micro, raw, tonic};

/// Every scenario, in the order they run.
const SCENARIOS: [&str; 8] = [
    "unary",
    "gateway",
    "server_stream",
    "bidi",
    "idle_conns",
    "pubsub",
    "codegen_plugin",
    "codegen_build",
];

fn cli() -> Command {
    let system = Arg::new("system").long("system").required(true);
    Command::new("micro-bench")
        .about("Benchmarks micro against tonic and a raw TCP echo, and its brokers against NATS")
        .arg(
            Arg::new("quick")
                .long("quick")
                .action(ArgAction::SetTrue)
                .help("Every scenario for a second or two: a smoke test, not a measurement"),
        )
        .arg(
            Arg::new("only")
                .long("only")
                .value_parser(SCENARIOS)
                .help("Run one scenario"),
        )
        .arg(
            Arg::new("reps")
                .long("reps")
                .value_parser(clap::value_parser!(usize))
                .help("Repetitions of each measurement (default 5, or 1 with --quick)"),
        )
        .arg(
            Arg::new("out")
                .long("out")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Where to write the JSON (default bench/results/latest.json); the table and chart go beside it"),
        )
        .subcommand(
            Command::new("serve")
                .hide(true)
                .about("Serves one system on a loopback port, printing READY <addr>")
                .arg(system.clone())
                .arg(
                    Arg::new("upstream")
                        .long("upstream")
                        .help("For --system gateway: the bench service's address"),
                ),
        )
        .subcommand(
            Command::new("load")
                .hide(true)
                .about("Drives one scenario and prints a JSON report")
                .arg(system.clone())
                .arg(Arg::new("addr").long("addr").required(true))
                .arg(Arg::new("scenario").long("scenario").required(true))
                .arg(number("concurrency", "1"))
                .arg(number("warmup-ms", "1000"))
                .arg(number("seconds-ms", "4000"))
                .arg(number("messages", "1000000")),
        )
        .subcommand(
            Command::new("subscribe")
                .hide(true)
                .about("Subscribes through one pub/sub system, printing READY <node>; on REPORT, prints what arrived")
                .arg(system.clone())
                .arg(Arg::new("nats").long("nats"))
                .arg(number("quiet-ms", "200"))
                .arg(number("drain-ms", "5000")),
        )
        .subcommand(
            Command::new("publish")
                .hide(true)
                .about("Publishes through one pub/sub system and prints a JSON report")
                .arg(system)
                .arg(Arg::new("nats").long("nats"))
                .arg(Arg::new("node").long("node"))
                .arg(number("quiet-ms", "200"))
                .arg(number("drain-ms", "5000"))
                .arg(number("warmup-ms", "1000"))
                .arg(number("seconds-ms", "4000"))
                .arg(number("rate", "0")),
        )
}

fn number(name: &'static str, default: &'static str) -> Arg {
    Arg::new(name)
        .long(name)
        .default_value(default)
        .value_parser(clap::value_parser!(u64))
}

fn get<'a>(args: &'a ArgMatches, name: &str) -> &'a String {
    args.get_one::<String>(name).expect("required argument")
}

fn get_u64(args: &ArgMatches, name: &str) -> u64 {
    *args.get_one::<u64>(name).expect("has a default")
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn serve(args: &ArgMatches) -> anyhow::Result<()> {
    if get(args, "system") == "gateway" {
        let upstream: SocketAddr = args
            .get_one::<String>("upstream")
            .context("--system gateway needs --upstream")?
            .parse()?;
        // One thread, as the `micro` binary runs `micro api`.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        return runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            println!("READY {}", listener.local_addr()?);
            gateway::serve(listener, upstream).await
        });
    }
    let system = System::parse(get(args, "system"))?;
    runtime()?.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("READY {}", listener.local_addr()?);
        match system {
            System::Micro => micro::serve(listener).await,
            System::Tonic => tonic::serve(listener).await,
            System::RawTcp => raw::serve(listener).await,
        }
    })
}

fn run_load(args: &ArgMatches) -> anyhow::Result<()> {
    let system = System::parse(get(args, "system"))?;
    let addr: SocketAddr = get(args, "addr").parse()?;
    let concurrency = usize::try_from(get_u64(args, "concurrency"))?;
    let messages = u32::try_from(get_u64(args, "messages"))?;
    let report = runtime()?.block_on(async {
        match get(args, "scenario").as_str() {
            "unary" => {
                let warmup = Duration::from_millis(get_u64(args, "warmup-ms"));
                let seconds = Duration::from_millis(get_u64(args, "seconds-ms"));
                load::unary(system, addr, concurrency, warmup, seconds).await
            }
            scenario @ (gateway::orchestrate::DIRECT | gateway::orchestrate::THROUGH) => {
                let target = match scenario {
                    gateway::orchestrate::DIRECT => gateway::client::Target::Direct,
                    _ => gateway::client::Target::Gateway,
                };
                let warmup = Duration::from_millis(get_u64(args, "warmup-ms"));
                let seconds = Duration::from_millis(get_u64(args, "seconds-ms"));
                let callers = gateway::client::callers(addr, concurrency, target).await?;
                load::drive(callers, warmup, seconds).await
            }
            "server_stream" => load::stream(system, addr, false, messages).await,
            "bidi" => load::stream(system, addr, true, messages).await,
            "idle" => {
                load::idle(system, addr, concurrency).await?;
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown scenario {other}"),
        }
    })?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn settle(args: &ArgMatches) -> pubsub::subscriber::Settle {
    pubsub::subscriber::Settle {
        quiet: Duration::from_millis(get_u64(args, "quiet-ms")),
        limit: Duration::from_millis(get_u64(args, "drain-ms")),
    }
}

fn subscribe(args: &ArgMatches) -> anyhow::Result<()> {
    let system = pubsub::System::parse(get(args, "system"))?;
    let nats = args.get_one::<String>("nats").map(String::as_str);
    runtime()?.block_on(pubsub::subscriber::run(system, nats, settle(args)))
}

fn publish(args: &ArgMatches) -> anyhow::Result<()> {
    let system = pubsub::System::parse(get(args, "system"))?;
    let nats = args.get_one::<String>("nats").map(String::as_str);
    let node = args.get_one::<String>("node").map(String::as_str);
    let window = pubsub::publisher::Window {
        warmup: Duration::from_millis(get_u64(args, "warmup-ms")),
        seconds: Duration::from_millis(get_u64(args, "seconds-ms")),
        rate: u32::try_from(get_u64(args, "rate"))
            .ok()
            .filter(|rate| *rate > 0),
    };
    runtime()?.block_on(pubsub::publisher::run(
        system,
        nats,
        node,
        window,
        settle(args),
    ))
}

fn main() -> anyhow::Result<()> {
    let args = cli().get_matches();
    match args.subcommand() {
        Some(("serve", sub)) => return serve(sub),
        Some(("load", sub)) => return run_load(sub),
        Some(("subscribe", sub)) => return subscribe(sub),
        Some(("publish", sub)) => return publish(sub),
        _ => {}
    }
    let quick = args.get_flag("quick");
    let mut plan = Plan::new(quick);
    if let Some(reps) = args.get_one::<usize>("reps") {
        plan.reps = (*reps).max(1);
    }
    let only = args.get_one::<String>("only").map(String::as_str);
    let results = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results");
    let out = args
        .get_one::<PathBuf>("out")
        .cloned()
        .unwrap_or_else(|| results.join("latest.json"));
    let codegen = codegen::CodegenOptions {
        quick,
        reps: plan.reps.min(3),
        workspace_root: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("bench/ has a parent")?
            .to_owned(),
        work_dir: std::env::temp_dir().join("micro-bench"),
    };

    let mut records: Vec<Record> = Vec::new();
    for scenario in SCENARIOS {
        if only.is_some_and(|only| only != scenario) {
            continue;
        }
        eprintln!("== {scenario}");
        records.extend(match scenario {
            "unary" => orchestrate::unary(&plan)?,
            "gateway" => gateway::orchestrate::run(&plan)?,
            "server_stream" => orchestrate::stream(&plan, false)?,
            "bidi" => orchestrate::stream(&plan, true)?,
            "idle_conns" => orchestrate::idle(&plan)?,
            "pubsub" => pubsub::orchestrate::run(&plan)?,
            "codegen_plugin" => codegen::plugin(&codegen)?,
            _ => codegen::build(&codegen)?,
        });
    }
    report::write(&out, &records, &plan)?;
    Ok(())
}
