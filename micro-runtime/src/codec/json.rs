//! The JSON codec: the proto3 JSON mapping through the pbjson serde impls.

use bytes::Bytes;

use super::Message;
use crate::error::{Error, SERVER_ID};

pub(super) fn encode<M: Message>(message: &M) -> Result<Bytes, Error> {
    let mut out = serde_json::to_vec(message)
        .map_err(|e| Error::internal_server_error(SERVER_ID, format!("cannot encode JSON: {e}")))?;
    // go-micro's JSON codec writes through json.Encoder, which ends every value with a newline.
    out.push(b'\n');
    Ok(Bytes::from(out))
}

pub(super) fn decode<M: Message>(body: &[u8]) -> Result<M, Error> {
    // An empty body is the empty message, as for protobuf (curl without -d sends none).
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(M::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| Error::bad_request(SERVER_ID, format!("cannot decode JSON body: {e}")))
}
