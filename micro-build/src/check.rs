//! Input checks the libraries underneath would otherwise answer with a panic or with
//! code that does not compile.

use std::collections::{HashMap, HashSet};

use prost_types::{DescriptorProto, FileDescriptorProto, FileDescriptorSet};

use crate::error::Error;
use crate::model::{Origin, Service};

/// Requested files must be present; no file may use editions.
pub fn descriptors(fds: &FileDescriptorSet, files_to_generate: &[String]) -> Result<(), Error> {
    for name in files_to_generate {
        if !fds.file.iter().any(|f| f.name() == name) {
            return Err(Error::new(format!(
                "{name}: not found in the descriptor set given to micro-build"
            )));
        }
    }
    // Imports too: pbjson-build cannot even index an editions file.
    if let Some(file) = fds.file.iter().find(|f| f.syntax() == "editions") {
        return Err(Error::new(format!(
            "{}: editions are not supported (micro generates code with prost, which supports \
             proto2 and proto3); use syntax = \"proto3\"",
            file.name()
        )));
    }
    Ok(())
}

/// The copy of `file` given to pbjson-build, which insists on a package.
///
/// A file without one gets the empty package; references to its types are written
/// `..Name` so that pbjson's path matching sees the empty first segment.
pub fn for_pbjson(file: &FileDescriptorProto, root_types: &HashSet<String>) -> FileDescriptorProto {
    let mut file = file.clone();
    if file.package.is_none() {
        file.package = Some(String::new());
    }
    if !root_types.is_empty() {
        for message in &mut file.message_type {
            point_at_root(message, root_types);
        }
    }
    file
}

/// Top-level types of files without a package, as `.Name`.
pub fn root_types(fds: &FileDescriptorSet) -> HashSet<String> {
    fds.file
        .iter()
        .filter(|f| f.package().is_empty())
        .flat_map(|f| {
            let messages = f.message_type.iter().map(|m| m.name());
            messages.chain(f.enum_type.iter().map(|e| e.name()))
        })
        .map(|name| format!(".{name}"))
        .collect()
}

fn point_at_root(message: &mut DescriptorProto, root_types: &HashSet<String>) {
    for field in &mut message.field {
        if let Some(type_name) = &mut field.type_name {
            let top = type_name.split('.').take(2).collect::<Vec<_>>().join(".");
            if root_types.contains(&top) {
                type_name.insert(0, '.');
            }
        }
    }
    for nested in &mut message.nested_type {
        point_at_root(nested, root_types);
    }
}

/// The Rust item names of one package: its messages and enums, then each service's items.
pub struct PackageNames {
    package: String,
    taken: HashMap<String, String>,
}

impl PackageNames {
    /// Starts with the package's top-level messages and enums.
    pub fn new(fds: &FileDescriptorSet, package: &str) -> Self {
        let mut taken = HashMap::new();
        for file in fds.file.iter().filter(|f| f.package() == package) {
            for name in file.message_type.iter().map(|m| m.name()) {
                taken.insert(name.to_owned(), format!("message `{name}`"));
            }
            for name in file.enum_type.iter().map(|e| e.name()) {
                taken.insert(name.to_owned(), format!("enum `{name}`"));
            }
        }
        Self {
            package: package.to_owned(),
            taken,
        }
    }

    /// Records a service's items, refusing any that another item already uses.
    pub fn claim(&mut self, service: &Service, origin: &Origin) -> Result<(), Error> {
        let owner = format!("service `{}`", service.name);
        for item in service.item_names() {
            if let Some(other) = self.taken.insert(item.clone(), owner.clone()) {
                return Err(Error::new(format!(
                    "{}: {owner} generates the Rust item `{item}`, which {other} of package \
                     `{}` also defines; rename one of them",
                    origin.file, self.package
                )));
            }
        }
        Ok(())
    }
}
