//! `micro call NAME ENDPOINT [JSON]`: one unary call, its JSON request checked against the
//! registry's schema before it is sent, its reply printed as indented JSON.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use micro_runtime::codec::ContentType;
use micro_runtime::registry::{Endpoint, MemoryRegistry, Registry};
use micro_runtime::{CallOptions, Client};

use crate::config::Global;
use crate::failure::Failure;

pub const EXAMPLES: &str = "\
Examples:
  micro call greeter Greeter.Hello '{\"name\": \"John\"}'
  micro call greeter Greeter.Hello --name=John
  micro call users Users.Create --name=Ann --address.city=Paris --tags=a --tags=b
  micro call greeter Greeter.Hello - < request.json
  micro call greeter Greeter.Hello '{\"name\": \"John\"}' -m Trace-Id=abc --timeout 2s
  micro call greeter Greeter.Hello '{\"name\": \"John\"}' --address 127.0.0.1:8080";

/// The arguments of `micro call`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The service name.
    service: String,
    /// The endpoint, `Service.Method` (as `micro describe` lists them).
    endpoint: String,
    /// The request as JSON, or `-` to read it from stdin [default: {}].
    body: Option<String>,
    /// Metadata sent with the call as a header, `key=value`; repeat for more.
    #[arg(short, long = "metadata", value_name = "KEY=VALUE", value_parser = key_value)]
    metadata: Vec<(String, String)>,
    /// How long the call may take: `500ms`, `2s`, `1m`.
    #[arg(long, default_value = "10s", value_parser = duration)]
    timeout: Duration,
    /// Calls this node (`host:port`) directly, without the registry (and without checking the
    /// request against its schema).
    #[arg(long)]
    address: Option<String>,
    /// The request's content type: `application/json`, or `application/octet-stream` to send
    /// the argument's bytes as they are.
    #[arg(long = "content-type", default_value = "application/json")]
    content_type: String,
    /// The request's fields as flags (`--name=John`, `--address.city=Paris`, a repeated field
    /// given again), typed by the endpoint's schema; taken out before the rest is parsed.
    #[arg(skip)]
    pub fields: Vec<(String, String)>,
}

pub async fn run(global: &Global, args: Args) -> Result<(), Failure> {
    let content_type = match args.content_type.as_str() {
        "application/json" => ContentType::JSON,
        "application/octet-stream" => ContentType::OCTET_STREAM,
        other => {
            return Err(Failure::Usage(format!(
                "--content-type {other}: micro call sends application/json or application/octet-stream"
            )));
        }
    };
    if !args.fields.is_empty() && args.body.is_some() {
        return Err(Failure::Usage(
            "give the request as JSON or as field flags (--name=John), not both".to_string(),
        ));
    }
    let mut text = read_body(args.body.as_deref())?;
    let mut json = (content_type == ContentType::JSON)
        .then(|| parse(&text))
        .transpose()?;

    let mut options = CallOptions::new().timeout(args.timeout);
    for (key, value) in &args.metadata {
        options = options.metadata(key, value);
    }
    let registry: Arc<dyn Registry> = match &args.address {
        Some(address) => {
            options = options.address(address);
            if !args.fields.is_empty() {
                // No registry, no schema: every value is a string.
                text = crate::fields::build(&args.fields, None)
                    .map_err(Failure::Usage)?
                    .to_string();
            }
            Arc::new(MemoryRegistry::new())
        }
        None => {
            let registry = global.registry()?;
            let records = global.service(&registry, &args.service).await?;
            let endpoint = find_endpoint(global, &records, &args.service, &args.endpoint)?;
            if endpoint.metadata.get("stream").is_some_and(|v| v == "true") {
                return Err(Failure::Usage(format!(
                    "{} is a streaming endpoint; use micro stream",
                    args.endpoint
                )));
            }
            if !args.fields.is_empty() {
                let built = crate::fields::build(&args.fields, endpoint.request.as_ref())
                    .map_err(Failure::Usage)?;
                text = built.to_string();
                json = Some(built);
            }
            if let (Some(json), Some(schema)) = (&json, &endpoint.request) {
                crate::schema::check(json, schema).map_err(Failure::Usage)?;
            }
            registry
        }
    };
    let client = Client::new(registry);
    let reply = client
        .call_raw(
            &args.service,
            &args.endpoint,
            content_type,
            Bytes::from(text),
            &options,
        )
        .await?;
    print_reply(&reply);
    Ok(())
}

/// The request (or message) text: the argument, stdin for `-`, or `{}`.
pub fn read_body(body: Option<&str>) -> Result<String, Failure> {
    match body {
        None => Ok("{}".to_string()),
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Failure::Usage(format!("cannot read the request from stdin: {e}")))?;
            Ok(text)
        }
        Some(text) => Ok(text.to_string()),
    }
}

/// Parses the request (or message), pointing at the position of a syntax error.
pub fn parse(text: &str) -> Result<serde_json::Value, Failure> {
    serde_json::from_str(text).map_err(|err| {
        Failure::Usage(format!(
            "the request is not valid JSON: {} at line {}, column {}",
            describe(&err),
            err.line(),
            err.column()
        ))
    })
}

/// serde_json's message without its own "at line L column C" suffix.
fn describe(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// The endpoint in any version of the service, or a not-found failure naming near matches.
pub fn find_endpoint<'a>(
    global: &Global,
    records: &'a [micro_runtime::registry::ServiceRecord],
    service: &str,
    name: &str,
) -> Result<&'a Endpoint, Failure> {
    let endpoints = records.iter().flat_map(|r| &r.endpoints);
    let Some(endpoint) = endpoints.clone().find(|e| e.name == name) else {
        let known = endpoints
            .filter(|e| !is_subscriber(e))
            .map(|e| e.name.as_str());
        let place = format!("service {service} ({})", global.registry_name());
        return Err(Failure::NotFound(crate::lookup::unknown(
            "endpoint", name, known, &place,
        )));
    };
    Ok(endpoint)
}

fn is_subscriber(endpoint: &Endpoint) -> bool {
    endpoint
        .metadata
        .get("subscriber")
        .is_some_and(|v| v == "true")
}

/// The reply as indented JSON, or as it came when it is not JSON.
fn print_reply(reply: &[u8]) {
    match serde_json::from_slice::<serde_json::Value>(reply) {
        Ok(json) => println!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_else(|_| json.to_string())
        ),
        Err(_) => println!("{}", String::from_utf8_lossy(reply)),
    }
}

pub fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("{text:?} is not key=value")),
    }
}

/// `500ms`, `2s`, `1m`, or a number of seconds (go-micro's forms).
pub fn duration(text: &str) -> Result<Duration, String> {
    micro_runtime::service::parse_duration(text)
        .ok_or_else(|| format!("{text:?} is not a duration such as 500ms, 2s or 1m"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_go_writes_them() {
        assert_eq!(duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(duration("3").unwrap(), Duration::from_secs(3));
        assert!(duration("soon").is_err());
        assert!(duration("2d").is_err());
    }

    #[test]
    fn a_syntax_error_points_at_its_position() {
        let Err(Failure::Usage(why)) = parse("{\"name\": \"John\",\n  }") else {
            panic!("accepted");
        };
        assert!(why.contains("line 2, column 3"), "{why}");
    }

    #[test]
    fn metadata_is_key_equals_value() {
        assert_eq!(
            key_value("Trace-Id=a=b").unwrap(),
            ("Trace-Id".into(), "a=b".into())
        );
        assert!(key_value("novalue").is_err());
    }
}
