//! The include file: one module tree mounting every package file at its package path.
//!
//! Mounting all packages from one root is what makes prost's cross-package
//! `super::super::…` paths resolve; including package files one by one in hand-written
//! modules is how "too many leading `super` keywords" errors happen.

use prost_build::Module;

/// `pub mod a { pub mod b { include!("a.b.rs"); } }` for every `(module, file)`.
///
/// `include!` paths are relative, and rustc resolves them against the including file, so
/// the tree works wherever it and the package files sit together (OUT_DIR or a plugin's
/// output directory).
pub fn module_tree(mut modules: Vec<(Module, String)>) -> String {
    modules.sort();
    let mut out = String::new();
    let mut stack: Vec<String> = Vec::new();
    for (module, file) in modules {
        let parts: Vec<&str> = module.parts().collect();
        while !parts.starts_with(&stack.iter().map(String::as_str).collect::<Vec<_>>()) {
            stack.pop();
            line(&mut out, stack.len(), "}");
        }
        while stack.len() < parts.len() {
            let part = parts[stack.len()];
            // Docs, so users' `#![deny(missing_docs)]` holds for the tree too.
            let path = parts[..=stack.len()].join(".");
            let doc = if stack.len() + 1 == parts.len() {
                format!("/// Generated from the proto package `{path}`.")
            } else {
                format!("/// Proto packages under `{path}`.")
            };
            line(&mut out, stack.len(), &doc);
            line(&mut out, stack.len(), &format!("pub mod {part} {{"));
            stack.push(part.to_owned());
        }
        line(&mut out, stack.len(), &format!("include!(\"{file}\");"));
    }
    while !stack.is_empty() {
        stack.pop();
        line(&mut out, stack.len(), "}");
    }
    out
}

fn line(out: &mut String, depth: usize, text: &str) {
    out.push_str(&"    ".repeat(depth));
    out.push_str(text);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_packages_share_their_parents() {
        let tree = module_tree(vec![
            (
                Module::from_parts(["nested", "common", "v1"]),
                "nested.common.v1.rs".into(),
            ),
            (Module::from_parts(["greeter"]), "greeter.rs".into()),
            (
                Module::from_parts(["nested", "api", "v1"]),
                "nested.api.v1.rs".into(),
            ),
        ]);
        let expected = "\
/// Generated from the proto package `greeter`.
pub mod greeter {
    include!(\"greeter.rs\");
}
/// Proto packages under `nested`.
pub mod nested {
    /// Proto packages under `nested.api`.
    pub mod api {
        /// Generated from the proto package `nested.api.v1`.
        pub mod v1 {
            include!(\"nested.api.v1.rs\");
        }
    }
    /// Proto packages under `nested.common`.
    pub mod common {
        /// Generated from the proto package `nested.common.v1`.
        pub mod v1 {
            include!(\"nested.common.v1.rs\");
        }
    }
}
";
        assert_eq!(tree, expected);
    }
}
