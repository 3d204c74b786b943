//! Endpoint value trees: the request/response shapes advertised in the registry.
//!
//! go-micro's server fills `Endpoint.request`/`response` by reflecting over Go structs
//! (server/extractor.go); micro computes the same tree from the descriptors at build time.

use std::collections::HashMap;

use proc_macro2::TokenStream;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorSet};
use quote::{ToTokens, quote};

/// Depth at which go-micro's extractor stops: the message, its fields, their fields.
const MAX_DEPTH: usize = 3;

/// Every message of a descriptor set, by fully-qualified name (`.pkg.Msg.Inner`).
#[derive(Debug, Default)]
pub struct TypeIndex {
    messages: HashMap<String, DescriptorProto>,
}

impl TypeIndex {
    /// Indexes all files, imports included, so cross-package and well-known types resolve.
    pub fn new(fds: &FileDescriptorSet) -> Self {
        let mut index = Self::default();
        for file in &fds.file {
            let prefix = match file.package() {
                "" => String::new(),
                package => format!(".{package}"),
            };
            for message in &file.message_type {
                index.add_message(&prefix, message);
            }
        }
        index
    }

    fn add_message(&mut self, prefix: &str, message: &DescriptorProto) {
        let name = format!("{prefix}.{}", message.name());
        for nested in &message.nested_type {
            self.add_message(&name, nested);
        }
        self.messages.insert(name, message.clone());
    }

    /// The value tree of a message used as a request or response.
    pub fn message_value(&self, fq_name: &str) -> Value {
        let short = short_name(fq_name).to_owned();
        Value {
            name: short.clone(),
            type_name: short,
            values: self.fields(fq_name, 1),
        }
    }

    /// The fields of a message at `depth`; empty past go-micro's cap, which also stops
    /// recursive messages.
    fn fields(&self, fq_name: &str, depth: usize) -> Vec<Value> {
        let Some(message) = self.messages.get(fq_name) else {
            return Vec::new();
        };
        if depth >= MAX_DEPTH {
            return Vec::new();
        }
        message
            .field
            .iter()
            .map(|field| self.field(field, depth))
            .collect()
    }

    fn field(&self, field: &FieldDescriptorProto, depth: usize) -> Value {
        let (type_name, values) = match field.r#type() {
            Type::Message | Type::Group => {
                let target = field.type_name();
                match self.map_entry(target) {
                    Some((key, value)) => (format!("map<{key},{value}>"), Vec::new()),
                    None => (
                        short_name(target).to_owned(),
                        self.fields(target, depth + 1),
                    ),
                }
            }
            Type::Enum => (short_name(field.type_name()).to_owned(), Vec::new()),
            scalar => (scalar_name(scalar).to_owned(), Vec::new()),
        };
        let repeated = field.label() == Label::Repeated && !type_name.starts_with("map<");
        Value {
            name: field.name().to_owned(),
            type_name: if repeated {
                format!("[]{type_name}")
            } else {
                type_name
            },
            values,
        }
    }

    /// `(key, value)` type names when `fq_name` is a map's synthetic entry message.
    fn map_entry(&self, fq_name: &str) -> Option<(String, String)> {
        let message = self.messages.get(fq_name)?;
        if !message.options.as_ref().is_some_and(|o| o.map_entry()) {
            return None;
        }
        let name = |field: &FieldDescriptorProto| match field.r#type() {
            Type::Message | Type::Enum | Type::Group => short_name(field.type_name()).to_owned(),
            scalar => scalar_name(scalar).to_owned(),
        };
        Some((name(message.field.first()?), name(message.field.get(1)?)))
    }
}

/// The last segment of a fully-qualified proto name.
fn short_name(fq_name: &str) -> &str {
    fq_name.rsplit('.').next().unwrap_or(fq_name)
}

/// The proto spelling of a scalar type, as written in the .proto file.
fn scalar_name(scalar: Type) -> &'static str {
    match scalar {
        Type::Double => "double",
        Type::Float => "float",
        Type::Int64 => "int64",
        Type::Uint64 => "uint64",
        Type::Int32 => "int32",
        Type::Fixed64 => "fixed64",
        Type::Fixed32 => "fixed32",
        Type::Bool => "bool",
        Type::String => "string",
        Type::Bytes => "bytes",
        Type::Uint32 => "uint32",
        Type::Sfixed32 => "sfixed32",
        Type::Sfixed64 => "sfixed64",
        Type::Sint32 => "sint32",
        Type::Sint64 => "sint64",
        Type::Group | Type::Message | Type::Enum => "message",
    }
}

/// One node of a value tree: go-micro's registry `Value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    /// The field name as written in the .proto (the message name at the root).
    pub name: String,
    /// `string`, `[]string`, `map<string,string>`, or a message/enum short name.
    pub type_name: String,
    /// The fields of a message-typed value, up to go-micro's depth cap.
    pub values: Vec<Value>,
}

impl ToTokens for Value {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let Self {
            name,
            type_name,
            values,
        } = self;
        tokens.extend(quote! {
            ::micro_runtime::codegen::ValueDescriptor {
                name: #name,
                type_name: #type_name,
                values: &[#(#values),*],
            }
        });
    }
}
