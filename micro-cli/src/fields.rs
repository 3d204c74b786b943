//! Typed field flags for `micro call`: `--name=John`, nested `--address.city=Paris`, repeated
//! `--tags=a --tags=b`, built into the JSON request with each value typed by the endpoint's
//! schema (`--count=3` is a number when `count` is an `int32`).
//!
//! They are taken out of the arguments before clap parses the rest (as go-micro's dynamic CLI
//! reads its own), so the command's options keep working anywhere on the line.

use micro_runtime::registry::{Value, fields_to_json};
use serde_json::Value as Json;

/// Splits `micro call`'s field flags (`path=value` pairs) out of the command line: after `call`,
/// every `--x` that is not one of `cli`'s options (the global ones or `call`'s) is a field.
pub fn extract(args: Vec<String>, cli: &clap::Command) -> (Vec<String>, Vec<(String, String)>) {
    let Some(at) = subcommand_at(&args, cli).filter(|&at| args[at] == "call") else {
        return (args, Vec::new());
    };
    let options: Vec<&str> = cli
        .find_subcommand("call")
        .into_iter()
        .flat_map(clap::Command::get_arguments)
        .chain(cli.get_arguments())
        .flat_map(|arg| {
            arg.get_long()
                .into_iter()
                .chain(arg.get_all_aliases().unwrap_or_default())
        })
        .collect();
    let mut args = args.into_iter();
    let mut kept: Vec<String> = args.by_ref().take(at + 1).collect();
    let mut fields = Vec::new();
    while let Some(arg) = args.next() {
        if arg == "--" {
            kept.push(arg);
            kept.extend(args.by_ref());
            break;
        }
        let Some(flag) = arg.strip_prefix("--") else {
            kept.push(arg);
            continue;
        };
        let (name, value) = match flag.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (flag.to_string(), None),
        };
        if name.is_empty() || options.contains(&name.as_str()) {
            kept.push(arg);
            continue;
        }
        // `--name John` as well as `--name=John`; a bare `--flag` (last, or before another
        // `--` argument) is `true`. A value starting with `--` needs the `=` form.
        let value = match value {
            Some(value) => value,
            None if args
                .as_slice()
                .first()
                .is_none_or(|next| next.starts_with("--")) =>
            {
                "true".to_string()
            }
            None => args.next().unwrap_or_default(),
        };
        fields.push((name, value));
    }
    (kept, fields)
}

/// Where the subcommand is: the first argument that is neither a global option nor its value.
fn subcommand_at(args: &[String], cli: &clap::Command) -> Option<usize> {
    let takes_value = |arg: Option<&clap::Arg>| arg.is_some_and(|a| a.get_action().takes_values());
    let mut at = 1;
    while let Some(arg) = args.get(at) {
        if arg == "--" {
            return None;
        }
        let global = if let Some(long) = arg.strip_prefix("--") {
            // `--registry=etcd` carries its value; `--registry etcd` takes the next argument.
            (!long.contains('=')).then(|| cli.get_arguments().find(|a| a.get_long() == Some(long)))
        } else if let Some(short) = arg.strip_prefix('-').filter(|s| s.chars().count() == 1) {
            let short = short.chars().next();
            Some(cli.get_arguments().find(|a| a.get_short() == short))
        } else if arg.starts_with('-') {
            None // `-ojson`: the value is in the argument
        } else {
            return Some(at);
        };
        at += if global.is_some_and(takes_value) {
            2
        } else {
            1
        };
    }
    None
}

/// The request the field flags describe, typed by `schema` when there is one (strings without).
pub fn build(fields: &[(String, String)], schema: Option<&Value>) -> Result<Json, String> {
    let pairs = fields.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    fields_to_json(pairs, schema)
        .map(Json::Object)
        .map_err(|err| format!("--{err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split(' ').map(str::to_string).collect()
    }

    fn cli() -> clap::Command {
        let mut cli = <crate::Cli as clap::CommandFactory>::command();
        cli.build();
        cli
    }

    #[test]
    fn fields_are_taken_out_and_options_stay() {
        let line = "micro call svc Svc.Do --name=John --timeout 2s --count 3 -m a=b --vip --help";
        let (kept, fields) = extract(args(line), &cli());
        assert_eq!(
            kept,
            args("micro call svc Svc.Do --timeout 2s -m a=b --help")
        );
        assert_eq!(
            fields,
            [("name", "John"), ("count", "3"), ("vip", "true")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        let (kept, fields) = extract(args("micro describe --name=x"), &cli());
        assert_eq!((kept.len(), fields.len()), (3, 0));
    }

    #[test]
    fn call_is_found_after_global_options() {
        for line in [
            "micro -o json call svc Svc.Do --name=John",
            "micro --registry etcd --registry_address=a:1 call svc Svc.Do --name=John",
            "micro -ojson call svc Svc.Do --name=John",
        ] {
            let (kept, fields) = extract(args(line), &cli());
            assert_eq!(fields, [("name".to_string(), "John".to_string())], "{line}");
            assert!(!kept.contains(&"--name=John".to_string()), "{line}");
        }
        // `call` as a global option's value is not the subcommand.
        let (_, fields) = extract(args("micro --registry call describe --name=x"), &cli());
        assert!(fields.is_empty());
    }
}
