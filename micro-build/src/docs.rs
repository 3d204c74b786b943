//! Default docs for prost items the proto left uncommented.
//!
//! prost turns proto comments into docs but writes none where the proto has none, so a
//! user crate with `#![deny(missing_docs)]` would not compile the generated messages.
//! A short sentence naming the item is better than blanket `#[allow(missing_docs)]`.

use syn::visit_mut::{self, VisitMut};
use syn::{Attribute, Visibility};

/// Adds a doc attribute to every public item, field and variant without one.
pub fn fill_missing(file: &mut syn::File) {
    DocFiller.visit_file_mut(file);
}

struct DocFiller;

fn has_doc(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("doc"))
}

fn add_doc(attrs: &mut Vec<Attribute>, text: String) {
    if !has_doc(attrs) {
        let text = format!(" {text}");
        attrs.insert(0, syn::parse_quote!(#[doc = #text]));
    }
}

fn is_pub(vis: &Visibility) -> bool {
    matches!(vis, Visibility::Public(_))
}

impl VisitMut for DocFiller {
    fn visit_item_struct_mut(&mut self, item: &mut syn::ItemStruct) {
        if is_pub(&item.vis) {
            add_doc(&mut item.attrs, format!("The `{}` message.", item.ident));
        }
        visit_mut::visit_item_struct_mut(self, item);
    }

    fn visit_item_enum_mut(&mut self, item: &mut syn::ItemEnum) {
        if is_pub(&item.vis) {
            add_doc(&mut item.attrs, format!("The `{}` enum.", item.ident));
            // Variants of private enums (pbjson's field matchers) need no docs.
            for variant in &mut item.variants {
                add_doc(
                    &mut variant.attrs,
                    format!("The `{}` variant.", variant.ident),
                );
            }
        }
        visit_mut::visit_item_enum_mut(self, item);
    }

    fn visit_item_mod_mut(&mut self, item: &mut syn::ItemMod) {
        if is_pub(&item.vis) {
            add_doc(
                &mut item.attrs,
                format!("Types nested in the `{}` message.", item.ident),
            );
        }
        visit_mut::visit_item_mod_mut(self, item);
    }

    fn visit_field_mut(&mut self, field: &mut syn::Field) {
        if let (true, Some(ident)) = (is_pub(&field.vis), &field.ident) {
            let name = ident.to_string();
            let name = name.trim_start_matches("r#");
            add_doc(&mut field.attrs, format!("The `{name}` field."));
        }
        visit_mut::visit_field_mut(self, field);
    }

    fn visit_impl_item_fn_mut(&mut self, item: &mut syn::ImplItemFn) {
        if is_pub(&item.vis) {
            add_doc(&mut item.attrs, format!("See `{}`.", item.sig.ident));
        }
        visit_mut::visit_impl_item_fn_mut(self, item);
    }

    fn visit_item_const_mut(&mut self, item: &mut syn::ItemConst) {
        if is_pub(&item.vis) {
            add_doc(&mut item.attrs, format!("The `{}` constant.", item.ident));
        }
        visit_mut::visit_item_const_mut(self, item);
    }
}
