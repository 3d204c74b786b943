//! The protoc plugin front end: `CodeGeneratorRequest` in, `CodeGeneratorResponse` out.

use prost::Message;
use prost_types::FileDescriptorSet;
use prost_types::compiler::code_generator_response::{Feature, File};
use prost_types::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};

use crate::error::Error;
use crate::generator::generate;
use crate::http_rules::HttpRules;
use crate::params;

/// Decodes an encoded request (protoc's stdin) and returns the encoded response (for stdout).
///
/// Failures, including an undecodable request, are reported in the response's `error`
/// field, as the plugin protocol asks; the plugin still exits 0.
pub fn execute(request: &[u8]) -> Vec<u8> {
    let response = match CodeGeneratorRequest::decode(request) {
        Ok(decoded) => match HttpRules::from_plugin_request(request) {
            Ok(http) => respond_with(decoded, &http),
            Err(error) => response(Some(error)),
        },
        Err(e) => response(Some(Error::new(format!(
            "protoc-gen-micro: cannot decode the CodeGeneratorRequest: {e}"
        )))),
    };
    response.encode_to_vec()
}

/// Generates the response for a decoded request. The request's `google.api.http` rules are
/// lost in decoding (prost drops extensions), so its endpoints declare no HTTP routes; protoc's
/// bytes given to [`execute`] keep them.
pub fn respond(request: CodeGeneratorRequest) -> CodeGeneratorResponse {
    respond_with(request, &HttpRules::default())
}

fn respond_with(request: CodeGeneratorRequest, http: &HttpRules) -> CodeGeneratorResponse {
    match files(request, http) {
        Ok(file) => CodeGeneratorResponse {
            file,
            ..response(None)
        },
        Err(error) => response(Some(error)),
    }
}

fn files(request: CodeGeneratorRequest, http: &HttpRules) -> Result<Vec<File>, Error> {
    let (options, include) = params::parse(request.parameter())?;
    let fds = FileDescriptorSet {
        file: request.proto_file,
    };
    let generated = generate(&fds, &request.file_to_generate, &options, http)?;
    let mut files = Vec::with_capacity(generated.len() * 2);
    for file in generated {
        // Pairs with protoc-gen-prost in the same protoc run: its `<package>.rs` ends with
        // this insertion point, and our code joins the module it defines.
        let insertion = (options.services_only && include).then(|| File {
            name: Some(file.name.replace(".micro.rs", ".rs")),
            insertion_point: Some("module".to_owned()),
            content: Some(format!("include!(\"{}\");\n", file.name)),
            generated_code_info: None,
        });
        files.push(File {
            name: Some(file.name),
            insertion_point: None,
            content: Some(file.content),
            generated_code_info: None,
        });
        files.extend(insertion);
    }
    Ok(files)
}

/// An empty response, carrying `error` if any. It declares proto3 `optional` support but
/// not editions, so protoc itself rejects editions files with its own message.
fn response(error: Option<Error>) -> CodeGeneratorResponse {
    CodeGeneratorResponse {
        error: error.map(|e| e.message().to_owned()),
        supported_features: Some(Feature::Proto3Optional as u64),
        ..Default::default()
    }
}
