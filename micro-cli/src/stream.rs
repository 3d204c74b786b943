//! `micro stream NAME ENDPOINT [JSON]`: a streaming call of any kind. The messages to send are
//! the argument (one message) or newline-delimited JSON on stdin, each checked against the
//! request schema; every reply is printed as one JSON line; the end of input ends the sending
//! side (go-micro's `EOS`), and the command ends when the service ends the stream. Ctrl-C (see
//! `main`) drops the stream, which hangs up the connection, so the service stops its handler.
//!
//! The registry marks an endpoint `stream: "true"` without saying which kind, so every stream is
//! opened as a bidirectional one. On go-micro's wire the three kinds differ only in how many
//! messages each side sends, so a server stream gets its one request and a client stream its
//! one reply this way too.

use std::time::Duration;

use micro_runtime::codec::{ContentType, JsonValue as Json};
use micro_runtime::{CallOptions, Client};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::config::Global;
use crate::failure::Failure;

pub const EXAMPLES: &str = "\
Examples:
  micro stream streamer Streamer.Countdown '{\"from\": 3}'
  printf '{\"value\": 1}\\n{\"value\": 2}\\n' | micro stream streamer Streamer.Sum
  micro stream streamer Streamer.Echo        # type one JSON message per line; Ctrl-D ends";

/// The arguments of `micro stream`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The service name.
    service: String,
    /// The streaming endpoint, `Service.Method`.
    endpoint: String,
    /// The only message to send; without it, one JSON message per line on stdin until EOF.
    body: Option<String>,
    /// Metadata sent with the stream as a header, `key=value`; repeat for more.
    #[arg(short, long = "metadata", value_name = "KEY=VALUE", value_parser = crate::call::key_value)]
    metadata: Vec<(String, String)>,
    /// How long the whole stream may take: `30s`, `5m`; none by default.
    #[arg(long, value_parser = crate::call::duration)]
    timeout: Option<Duration>,
}

pub async fn run(global: &Global, args: Args) -> Result<(), Failure> {
    let registry = global.registry()?;
    let records = global.service(&registry, &args.service).await?;
    let endpoint = crate::call::find_endpoint(global, &records, &args.service, &args.endpoint)?;
    if endpoint.metadata.get("stream").is_none_or(|v| v != "true") {
        return Err(Failure::Usage(format!(
            "{} is not a streaming endpoint; use micro call",
            args.endpoint
        )));
    }
    let schema = endpoint.request.clone();
    let mut options = CallOptions::new().content_type(ContentType::JSON);
    for (key, value) in &args.metadata {
        options = options.metadata(key, value);
    }
    if let Some(timeout) = args.timeout {
        options = options.timeout(timeout);
    }
    let stream = Client::new(registry)
        .open_stream::<Json, Json>(&args.service, &args.endpoint, &options)
        .await?;
    let (sender, mut receiver) = stream.split();

    let sending = async move {
        let check = |text: &str, at: &str| -> Result<Json, Failure> {
            let json = crate::call::parse(text).map_err(|f| at_line(f, at))?;
            if let Some(schema) = &schema {
                crate::schema::check(&json, schema)
                    .map_err(|why| Failure::Usage(format!("{at}{why}")))?;
            }
            Ok(Json(json))
        };
        match &args.body {
            Some(body) => sender.send(check(body, "")?).await?,
            None => {
                let mut lines = BufReader::new(tokio::io::stdin()).lines();
                let mut number = 0;
                while let Some(line) = lines
                    .next_line()
                    .await
                    .map_err(|e| Failure::Other(e.to_string()))?
                {
                    number += 1;
                    if line.trim().is_empty() {
                        continue;
                    }
                    sender
                        .send(check(&line, &format!("line {number}: "))?)
                        .await?;
                }
            }
        }
        // The end of input: EOS, and the replies go on until the service ends the stream.
        sender.close().await?;
        Ok::<(), Failure>(())
    };
    let printing = async {
        while let Some(Json(reply)) = receiver.recv().await? {
            println!("{reply}");
        }
        Ok::<(), Failure>(())
    };
    tokio::pin!(sending, printing);
    let mut sent = false;
    loop {
        tokio::select! {
            result = &mut sending, if !sent => {
                result?;
                sent = true;
            }
            result = &mut printing => return result,
        }
    }
}

/// A refusal of an input line, with the line's number in front.
fn at_line(failure: Failure, at: &str) -> Failure {
    match failure {
        Failure::Usage(why) => Failure::Usage(format!("{at}{why}")),
        other => other,
    }
}
