//! `micro watch`: the registry's events as they happen, one line each, until Ctrl-C.

use crate::config::{Global, Output};
use crate::failure::Failure;

pub async fn run(global: &Global, service: Option<&str>) -> Result<(), Failure> {
    let registry = global.registry()?;
    let mut watcher = global.ask(registry.watch(service)).await?;
    // On stderr, so that stdout holds the events alone; it also says the watch is in place.
    eprintln!("watching the {} (Ctrl-C to stop)", global.registry_name());
    loop {
        let event = tokio::select! {
            event = watcher.next() => event,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let Some(event) = event else {
            return Err(Failure::Unreachable(format!(
                "the {} ended the watch",
                global.registry_name()
            )));
        };
        match global.output {
            Output::Json => {
                let line = serde_json::json!({"action": event.action, "service": event.service});
                println!("{line}");
            }
            Output::Table => {
                let record = &event.service;
                let nodes: Vec<String> = record
                    .nodes
                    .iter()
                    .map(|n| format!("{} {}", n.id, n.address))
                    .collect();
                let action = serde_json::to_value(event.action)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                println!(
                    "{action:<6}  {}  {}  {}",
                    record.name,
                    record.version,
                    nodes.join(", ")
                );
            }
        }
    }
}
