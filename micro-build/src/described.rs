//! `Described` impls: every generated message's value tree, for the subscribers taking it.
//!
//! go-micro's subscriber endpoint lists the message's fields as its request, found by reflecting
//! over the Go struct (server/subscriber.go, extractor.go). micro's handler endpoints already get
//! that tree from [`TypeIndex::message_value`]; a subscriber only knows its message type, so the
//! same tree is attached to the type as `micro_runtime::codegen::Described::VALUE`.

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::TokenStream;
use prost_types::{DescriptorProto, FileDescriptorSet};
use quote::quote;

use crate::descriptor::TypeIndex;

/// One `impl Described` per message of `package` that prost generates here: map entries have no
/// Rust type, and messages under an extern path are generated elsewhere.
pub fn impls(
    fds: &FileDescriptorSet,
    package: &str,
    index: &TypeIndex,
    extern_paths: &[(String, String)],
) -> TokenStream {
    let prefix = match package {
        "" => String::new(),
        package => format!(".{package}"),
    };
    let mut found = Vec::new();
    for file in fds.file.iter().filter(|f| f.package() == package) {
        for message in &file.message_type {
            collect(&prefix, &[], message, &mut found);
        }
    }
    let external = |fq: &str| {
        extern_paths
            .iter()
            .any(|(proto, _)| fq == proto || fq.starts_with(&format!("{proto}.")))
    };
    found
        .into_iter()
        .filter(|(fq, _)| !external(fq))
        .map(|(fq, rust_path)| {
            // Segments come from `rust_ident`, so they are valid (possibly raw) identifiers.
            let path: syn::Path = syn::parse_str(&rust_path).expect("a Rust path");
            let value = index.message_value(&fq);
            quote! {
                impl ::micro_runtime::codegen::Described for #path {
                    const VALUE: ::micro_runtime::codegen::ValueDescriptor = #value;
                }
            }
        })
        .collect()
}

/// `(fully-qualified proto name, Rust path within the package module)` of `message` and its
/// nested messages: prost puts `Outer.Inner` at `outer::Inner`.
fn collect(
    prefix: &str,
    modules: &[String],
    message: &DescriptorProto,
    found: &mut Vec<(String, String)>,
) {
    if message.options.as_ref().is_some_and(|o| o.map_entry()) {
        return;
    }
    let fq = format!("{prefix}.{}", message.name());
    let mut path = modules.to_vec();
    path.push(rust_ident(&message.name().to_upper_camel_case()));
    found.push((fq.clone(), path.join("::")));
    let mut inner = modules.to_vec();
    inner.push(rust_ident(&message.name().to_snake_case()));
    for nested in &message.nested_type {
        collect(&fq, &inner, nested, found);
    }
}

/// prost-build's `sanitize_identifier`: keywords become raw identifiers, or take a `_` suffix
/// where Rust allows no raw form; a leading digit takes a `_` prefix.
fn rust_ident(ident: &str) -> String {
    const RAW: &[&str] = &[
        "as", "break", "const", "continue", "else", "enum", "false", "fn", "for", "if", "impl",
        "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static",
        "struct", "trait", "true", "type", "unsafe", "use", "where", "while", "dyn", "abstract",
        "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized",
        "virtual", "yield", "async", "await", "try", "gen",
    ];
    match ident {
        _ if RAW.contains(&ident) => format!("r#{ident}"),
        "_" | "super" | "self" | "Self" | "extern" | "crate" => format!("{ident}_"),
        _ if ident.starts_with(|c: char| c.is_ascii_digit()) => format!("_{ident}"),
        _ => ident.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prost() {
        assert_eq!(
            rust_ident(&"order_placed".to_upper_camel_case()),
            "OrderPlaced"
        );
        assert_eq!(rust_ident(&"Self".to_upper_camel_case()), "Self_");
        assert_eq!(rust_ident(&"Type".to_snake_case()), "r#type");
        assert_eq!(rust_ident(&"HTTPThing".to_snake_case()), "http_thing");
    }

    #[test]
    fn nested_messages_live_in_their_parent_module_and_map_entries_are_skipped() {
        use prost_types::MessageOptions;
        let entry = DescriptorProto {
            name: Some("LabelsEntry".into()),
            options: Some(MessageOptions {
                map_entry: Some(true),
                ..MessageOptions::default()
            }),
            ..DescriptorProto::default()
        };
        let inner = DescriptorProto {
            name: Some("Inner".into()),
            ..DescriptorProto::default()
        };
        let outer = DescriptorProto {
            name: Some("OuterMsg".into()),
            nested_type: vec![inner, entry],
            ..DescriptorProto::default()
        };
        let mut found = Vec::new();
        collect(".pkg", &[], &outer, &mut found);
        assert_eq!(
            found,
            [
                (".pkg.OuterMsg".to_owned(), "OuterMsg".to_owned()),
                (
                    ".pkg.OuterMsg.Inner".to_owned(),
                    "outer_msg::Inner".to_owned()
                ),
            ]
        );
    }
}
