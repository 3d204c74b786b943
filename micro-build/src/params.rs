//! `--micro_opt` parsing, following protoc-gen-prost's conventions.
//!
//! protoc joins every `--micro_opt` with commas, so a comma inside a value is written `\,`.
//! Flags are on when present and also accept `=true` / `=false`.

use crate::error::Error;
use crate::options::Options;

/// Parses the plugin parameter string into generator options.
pub fn parse(parameter: &str) -> Result<(Options, bool), Error> {
    let mut options = Options::default();
    let mut include = true;
    for param in split(parameter) {
        let (key, value) = match param.split_once('=') {
            Some((key, value)) => (key.trim(), Some(value)),
            None => (param.trim(), None),
        };
        match key {
            "" => {}
            "services_only" => options.services_only = flag(key, value)?,
            "no_include" => include = !flag(key, value)?,
            "no_client" => options.build_client = !flag(key, value)?,
            "no_server" => options.build_server = !flag(key, value)?,
            "include_file" => options.include_file = Some(required(key, value)?.to_owned()),
            "default_package_filename" => {
                options.default_package_filename = required(key, value)?.to_owned();
            }
            "extern_path" => options.extern_paths.push(pair(key, value)?),
            "type_attribute" => options.type_attributes.push(pair(key, value)?),
            "field_attribute" => options.field_attributes.push(pair(key, value)?),
            _ => {
                return Err(Error::new(format!(
                    "protoc-gen-micro: unknown option `{key}` (known: services_only, no_include, \
                     no_client, no_server, include_file=, default_package_filename=, \
                     extern_path=, type_attribute=, field_attribute=)"
                )));
            }
        }
    }
    Ok((options, include))
}

/// Splits on commas not escaped as `\,`, unescaping those.
fn split(parameter: &str) -> Vec<String> {
    let mut params = Vec::new();
    let mut current = String::new();
    let mut chars = parameter.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                chars.next();
                current.push(',');
            }
            ',' => params.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    params.push(current);
    params
}

fn flag(key: &str, value: Option<&str>) -> Result<bool, Error> {
    match value.map(str::trim) {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(Error::new(format!(
            "protoc-gen-micro: option `{key}` takes true or false, not `{other}`"
        ))),
    }
}

fn required<'a>(key: &str, value: Option<&'a str>) -> Result<&'a str, Error> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| {
        Error::new(format!(
            "protoc-gen-micro: option `{key}` needs a value: `{key}=...`"
        ))
    })
}

/// `PATH=VALUE` after the key: the first `=` separates them.
fn pair(key: &str, value: Option<&str>) -> Result<(String, String), Error> {
    required(key, value)?
        .split_once('=')
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .ok_or_else(|| {
            Error::new(format!(
                "protoc-gen-micro: option `{key}` needs `{key}=PATH=VALUE`"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_follow_protoc_gen_prost() {
        let (options, include) = parse(
            "no_client,services_only=true,no_include,extern_path=.a.b=::x::y,\
             type_attribute=.a.B=#[derive(Eq\\, Hash)]",
        )
        .unwrap();
        assert!(!options.build_client && options.build_server && options.services_only);
        assert!(!include);
        assert_eq!(options.extern_paths, [(".a.b".into(), "::x::y".into())]);
        assert_eq!(
            options.type_attributes,
            [(".a.B".into(), "#[derive(Eq, Hash)]".into())]
        );
    }

    #[test]
    fn unknown_options_are_named() {
        let error = parse("no_client,frobnicate=1").unwrap_err();
        assert!(
            error.message().contains("unknown option `frobnicate`"),
            "{error}"
        );
    }
}
