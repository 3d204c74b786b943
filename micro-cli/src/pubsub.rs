//! `micro publish TOPIC JSON` and `micro subscribe TOPIC`: messages through the broker the
//! services use, with go-micro's headers (`Content-Type`, `Micro-Topic`, `Micro-Id`). go-micro's
//! own `micro broker publish` sends no `Content-Type`, so its subscribers mis-decode; these do.

use std::sync::Arc;
use std::time::Duration;

use micro_runtime::broker::{Broker, Message, SubscribeOptions, event_handler};

use crate::config::{Global, Output};
use crate::failure::Failure;

/// How long a publish may take to reach the subscribers' inboxes (HTTP) or the server (NATS)
/// before the command gives up on it.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// The arguments of `micro publish`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The topic.
    topic: String,
    /// The message as JSON, or `-` to read it from stdin.
    body: String,
    /// A header sent with the message (metadata), `key=value`; repeat for more.
    #[arg(short, long = "metadata", value_name = "KEY=VALUE", value_parser = crate::call::key_value)]
    metadata: Vec<(String, String)>,
}

pub async fn publish(global: &Global, args: PublishArgs) -> Result<(), Failure> {
    let text = crate::call::read_body(Some(&args.body))?;
    crate::call::parse(&text)?;
    let broker = global.broker()?;
    let mut message = Message::json(&args.topic, text);
    let id = message.id().to_string();
    for (key, value) in args.metadata {
        // go-micro's own headers stay as set.
        message.header.entry(key).or_insert(value);
    }
    let unreachable = |err: micro_runtime::LocalError| {
        Failure::Unreachable(format!("{}: {err}", global.broker_name()))
    };
    broker
        .publish(&args.topic, message)
        .await
        .map_err(unreachable)?;
    // Out of the process before it exits: the HTTP broker delivers in the background.
    broker
        .disconnect_within(FLUSH_TIMEOUT)
        .await
        .map_err(unreachable)?;
    eprintln!("published {id} on {}", args.topic);
    Ok(())
}

/// The arguments of `micro subscribe`.
#[derive(Debug, clap::Args)]
pub struct SubscribeArgs {
    /// The topic.
    topic: String,
    /// A queue group: each message goes to one member of the group, not to every subscriber.
    #[arg(long)]
    queue: Option<String>,
}

pub async fn subscribe(global: &Global, args: SubscribeArgs) -> Result<(), Failure> {
    let broker: Arc<dyn Broker> = global.broker()?;
    let output = global.output;
    let handler = event_handler(move |event| async move {
        print_message(output, event.topic(), event.message());
        Ok(())
    });
    let mut options = SubscribeOptions::default();
    options.queue = args.queue;
    let subscription = broker
        .subscribe(&args.topic, handler, options)
        .await
        .map_err(|err| Failure::Unreachable(format!("{}: {err}", global.broker_name())))?;
    // On stderr, so that stdout holds the messages alone; it also says the subscription is live.
    eprintln!(
        "subscribed to {} on the {} (Ctrl-C to stop)",
        args.topic,
        global.broker_name()
    );
    let _ = tokio::signal::ctrl_c().await;
    let _ = subscription.unsubscribe().await;
    let _ = broker.disconnect().await;
    Ok(())
}

/// One message: its headers, sorted, then its body (indented when it is JSON); or one JSON line.
fn print_message(output: Output, topic: &str, message: &Message) {
    let body: serde_json::Value = serde_json::from_slice(&message.body)
        .unwrap_or_else(|_| String::from_utf8_lossy(&message.body).into_owned().into());
    match output {
        Output::Json => {
            let line = serde_json::json!({"topic": topic, "header": message.header, "body": body});
            println!("{line}");
        }
        Output::Table => {
            let headers: Vec<String> = message
                .header
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            let body = serde_json::to_string_pretty(&body).unwrap_or_default();
            println!("{}\n{body}\n", headers.join("\n"));
        }
    }
}
