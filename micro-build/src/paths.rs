//! Rewrites pbjson's `serde::…`/`pbjson::…` paths to go through `micro_runtime::codegen`.
//!
//! pbjson-build names its crates as if the user depended on them directly; micro's users
//! depend only on micro-runtime, which re-exports them in its hidden `codegen` module.
//! The rewrite works on the syntax tree, so strings and identifiers that merely contain
//! "serde" are left alone.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::visit_mut::{self, VisitMut};
use syn::{Ident, Path, PathSegment, Token, UseTree};

/// Crates generated code reaches only through `::micro_runtime::codegen`.
const REROUTED: [&str; 2] = ["serde", "pbjson"];

/// Reroutes every `serde`/`pbjson` path in `file`.
pub fn reroute(file: &mut syn::File) {
    Rerouter.visit_file_mut(file);
}

struct Rerouter;

fn is_rerouted(ident: &Ident) -> bool {
    REROUTED.iter().any(|name| ident == name)
}

/// The segments `micro_runtime::codegen`, to put in front of a rerouted path.
fn prefix() -> [PathSegment; 2] {
    [
        PathSegment::from(Ident::new("micro_runtime", Span::call_site())),
        PathSegment::from(Ident::new("codegen", Span::call_site())),
    ]
}

impl VisitMut for Rerouter {
    fn visit_path_mut(&mut self, path: &mut Path) {
        // pbjson also writes `std::…`; make it `::std::…` so a user module named `std`
        // cannot capture it.
        if path.leading_colon.is_none()
            && path.segments.len() > 1
            && path.segments[0].ident == "std"
        {
            path.leading_colon = Some(<Token![::]>::default());
        }
        if path.segments.first().is_some_and(|s| is_rerouted(&s.ident)) {
            let rest = std::mem::take(&mut path.segments);
            path.leading_colon = Some(<Token![::]>::default());
            path.segments.extend(prefix());
            path.segments.extend(rest);
        }
        visit_mut::visit_path_mut(self, path);
    }

    fn visit_item_use_mut(&mut self, item: &mut syn::ItemUse) {
        if let UseTree::Path(first) = &item.tree
            && is_rerouted(&first.ident)
        {
            let tree = std::mem::replace(
                &mut item.tree,
                UseTree::Glob(syn::UseGlob {
                    star_token: Default::default(),
                }),
            );
            let codegen = UseTree::Path(syn::UsePath {
                ident: Ident::new("codegen", Span::call_site()),
                colon2_token: Default::default(),
                tree: Box::new(tree),
            });
            item.tree = UseTree::Path(syn::UsePath {
                ident: Ident::new("micro_runtime", Span::call_site()),
                colon2_token: Default::default(),
                tree: Box::new(codegen),
            });
            item.leading_colon = Some(<Token![::]>::default());
        }
        visit_mut::visit_item_use_mut(self, item);
    }

    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        // Macro bodies are plain tokens to syn; reroute `serde::`/`pbjson::` in them too.
        mac.tokens = reroute_tokens(std::mem::take(&mut mac.tokens));
        visit_mut::visit_macro_mut(self, mac);
    }
}

/// Token-level version for macro bodies: `serde ::` not preceded by `::` or `.` gets the prefix.
fn reroute_tokens(tokens: TokenStream) -> TokenStream {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out: Vec<TokenTree> = Vec::with_capacity(tokens.len());
    for (i, token) in tokens.iter().enumerate() {
        match token {
            TokenTree::Group(group) => {
                let mut new =
                    proc_macro2::Group::new(group.delimiter(), reroute_tokens(group.stream()));
                new.set_span(group.span());
                out.push(TokenTree::Group(new));
            }
            TokenTree::Ident(ident) if is_rerouted(ident) && starts_path(&tokens[i + 1..]) => {
                match colon2_before(&out) {
                    // `a::serde::x`: a middle segment of some other path.
                    Some(true) => {}
                    Some(false) => out.extend(quote::quote!(micro_runtime::codegen::)),
                    None => out.extend(quote::quote!(::micro_runtime::codegen::)),
                }
                out.push(token.clone());
            }
            other => out.push(other.clone()),
        }
    }
    out.into_iter().collect()
}

/// Whether the tokens start with `::`.
fn starts_path(rest: &[TokenTree]) -> bool {
    matches!(rest, [TokenTree::Punct(a), TokenTree::Punct(b), ..] if a.as_char() == ':' && b.as_char() == ':')
}

/// `None` when the tokens so far do not end with `::`; otherwise whether that `::`
/// follows a path segment (an identifier or generic arguments) rather than starting a path.
fn colon2_before(out: &[TokenTree]) -> Option<bool> {
    match out {
        [rest @ .., TokenTree::Punct(a), TokenTree::Punct(b)]
            if a.as_char() == ':' && b.as_char() == ':' =>
        {
            Some(match rest.last() {
                Some(TokenTree::Ident(_)) => true,
                Some(TokenTree::Punct(p)) => p.as_char() == '>',
                _ => false,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rerouted(code: &str) -> String {
        let mut file = syn::parse_file(code).unwrap();
        reroute(&mut file);
        prettyplease::unparse(&file)
    }

    #[test]
    fn relative_and_absolute_paths_go_through_codegen() {
        let out = rerouted(
            "use serde::ser::SerializeStruct;\n\
             impl serde::Serialize for X { fn f() { let _ = ::pbjson::private::base64::encode(v); \
             format!(\"{}\", serde::de::Error::x()); } }",
        );
        assert!(out.contains("use ::micro_runtime::codegen::serde::ser::SerializeStruct;"));
        assert!(out.contains("impl ::micro_runtime::codegen::serde::Serialize for X"));
        assert!(out.contains("::micro_runtime::codegen::pbjson::private::base64::encode"));
        assert!(
            out.contains("::micro_runtime::codegen::serde::de::Error::x()"),
            "{out}"
        );
    }

    #[test]
    fn other_paths_and_strings_are_untouched() {
        let out = rerouted(
            "fn f() { let serde = \"serde::x\"; a::serde::b(); x.serde(); m!(a::serde::c); }",
        );
        assert!(out.contains("\"serde::x\""));
        assert!(out.contains("a::serde::b()"));
        assert!(out.contains("a::serde::c"));
        assert!(!out.contains("micro_runtime"));
    }
}
