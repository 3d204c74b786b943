//! Typed field flags for `micro call`: `--name=John`, nested `--address.city=Paris`, repeated
//! `--tags=a --tags=b`, built into the JSON request with each value typed by the endpoint's
//! schema (`--count=3` is a number when `count` is an `int32`).
//!
//! They are taken out of the arguments before clap parses the rest (as go-micro's dynamic CLI
//! reads its own), so the command's options keep working anywhere on the line.

use micro_runtime::registry::Value;
use serde_json::{Map, Value as Json};

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
    let mut root = Map::new();
    for (path, text) in fields {
        let mut object = &mut root;
        let mut shape = schema;
        let parts: Vec<&str> = path.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let field = shape.and_then(|s| s.values.iter().find(|f| f.name == *part));
            if i + 1 < parts.len() {
                let entry = object
                    .entry(part.to_string())
                    .or_insert_with(|| Json::Object(Map::new()));
                let Json::Object(inner) = entry else {
                    return Err(format!(
                        "--{path}: {part} is set both as a value and as a message"
                    ));
                };
                object = inner;
                shape = field;
                continue;
            }
            let type_name = field.map_or("string", |f| f.type_name.as_str());
            match type_name.strip_prefix("[]") {
                Some(element) => {
                    let value = typed(text, element, path)?;
                    match object
                        .entry(part.to_string())
                        .or_insert_with(|| Json::Array(vec![]))
                    {
                        Json::Array(items) => items.push(value),
                        _ => return Err(format!("--{path} is given twice")),
                    }
                }
                None => {
                    if object
                        .insert(part.to_string(), typed(text, type_name, path)?)
                        .is_some()
                    {
                        return Err(format!(
                            "--{path} is given twice, but {part} is not a repeated field"
                        ));
                    }
                }
            }
        }
    }
    Ok(Json::Object(root))
}

/// One value as its schema type wants it.
fn typed(text: &str, type_name: &str, path: &str) -> Result<Json, String> {
    let number = |ok: bool| {
        ok.then(|| serde_json::from_str::<Json>(text).ok())
            .flatten()
            .ok_or_else(|| format!("--{path}={text}: expected {type_name}"))
    };
    match type_name {
        "bool" => match text {
            "true" => Ok(Json::Bool(true)),
            "false" => Ok(Json::Bool(false)),
            _ => Err(format!("--{path}={text}: expected true or false")),
        },
        "int32" | "sint32" | "sfixed32" | "uint32" | "fixed32" | "int64" | "sint64"
        | "sfixed64" | "uint64" | "fixed64" => number(text.trim().parse::<i128>().is_ok()),
        "float" | "double" => number(text.trim().parse::<f64>().is_ok()),
        _ => Ok(Json::String(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split(' ').map(str::to_string).collect()
    }

    fn field(name: &str, type_name: &str, values: Vec<Value>) -> Value {
        Value {
            name: name.into(),
            type_name: type_name.into(),
            values,
        }
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

    #[test]
    fn values_are_typed_by_the_schema() {
        let schema = field(
            "Req",
            "Req",
            vec![
                field("name", "string", vec![]),
                field("count", "int32", vec![]),
                field("vip", "bool", vec![]),
                field("tags", "[]string", vec![]),
                field("address", "Address", vec![field("city", "string", vec![])]),
            ],
        );
        let fields: Vec<(String, String)> = [
            ("name", "John"),
            ("count", "3"),
            ("vip", "true"),
            ("tags", "a"),
            ("tags", "b"),
            ("address.city", "Paris"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
        assert_eq!(
            build(&fields, Some(&schema)).unwrap(),
            json!({"name": "John", "count": 3, "vip": true, "tags": ["a", "b"],
                   "address": {"city": "Paris"}})
        );
        let bad = [("count".to_string(), "three".to_string())];
        assert_eq!(
            build(&bad, Some(&schema)).unwrap_err(),
            "--count=three: expected int32"
        );
        let twice = [
            ("name".to_string(), "a".to_string()),
            ("name".to_string(), "b".to_string()),
        ];
        assert!(
            build(&twice, Some(&schema))
                .unwrap_err()
                .contains("not a repeated field")
        );
    }
}
