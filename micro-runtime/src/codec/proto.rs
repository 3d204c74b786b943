//! The protobuf codec: prost's encoding of one message; the body length delimits it.

use bytes::Bytes;

use super::Message;
use crate::error::{Error, SERVER_ID};

pub(super) fn encode<M: Message>(message: &M) -> Bytes {
    Bytes::from(message.encode_to_vec())
}

pub(super) fn decode<M: Message>(body: Bytes) -> Result<M, Error> {
    M::decode(body).map_err(|e| {
        Error::bad_request(format!("cannot decode protobuf body: {e}")).with_id(SERVER_ID)
    })
}
