//! The proto-rpc envelope of go-micro's `codec/protorpc`: two netstrings, each a 4-byte big-endian
//! length then that many bytes; first an envelope message, then the protobuf message itself.
//!
//! Envelopes (go-micro's `envelope.proto`): request `{string service_method = 1; fixed64 seq = 2}`,
//! response `{string service_method = 1; fixed64 seq = 2; string error = 3}`.

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message;

use super::{LegacyCodec, LegacyError};

/// go-micro's `protorpc.Request`.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct RequestEnvelope {
    #[prost(string, tag = "1")]
    pub(super) service_method: String,
    #[prost(fixed64, tag = "2")]
    pub(super) seq: u64,
}

/// go-micro's `protorpc.Response`.
#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct ResponseEnvelope {
    #[prost(string, tag = "1")]
    pub(super) service_method: String,
    #[prost(fixed64, tag = "2")]
    pub(super) seq: u64,
    #[prost(string, tag = "3")]
    pub(super) error: String,
}

/// A proto-rpc request, read; the message netstring is checked only when asked for, because
/// go-micro routes before it reads the body.
#[derive(Debug)]
pub(super) struct Request {
    pub(super) method: String,
    pub(super) id: String,
    rest: Bytes,
    limit: usize,
}

impl Request {
    /// Reads the envelope netstring; netstrings longer than `limit` bytes are refused.
    pub(super) fn decode(body: &Bytes, limit: usize) -> Result<Self, LegacyError> {
        let mut rest = body.clone();
        let envelope = netstring(&mut rest, limit, "envelope")?;
        let envelope = RequestEnvelope::decode(envelope).map_err(|e| LegacyError::Decode {
            codec: LegacyCodec::ProtoRpc,
            why: format!("bad request envelope: {e}"),
        })?;
        Ok(Request {
            method: envelope.service_method,
            // go-micro formats the seq with `%d`.
            id: envelope.seq.to_string(),
            rest,
            limit,
        })
    }

    /// The protobuf message of the second netstring. Anything after it is ignored, as go-micro does.
    pub(super) fn into_message(mut self) -> Result<Bytes, LegacyError> {
        // go-micro answers "EOF" here; micro says what is missing.
        if self.rest.is_empty() {
            return Err(LegacyError::Decode {
                codec: LegacyCodec::ProtoRpc,
                why: "the message netstring after the envelope is missing".to_string(),
            });
        }
        netstring(&mut self.rest, self.limit, "message")
    }
}

/// Encodes a response as go-micro writes it: the envelope with the seq read back from `id` and no
/// service_method (go-micro's router sets only the id on a reply), then the message.
pub(super) fn encode_response(id: &str, message: &[u8], error: &str) -> Bytes {
    let envelope = ResponseEnvelope {
        service_method: String::new(),
        seq: seq(id),
        error: error.to_string(),
    };
    let mut out = BytesMut::with_capacity(8 + envelope.encoded_len() + message.len());
    put_netstring(&mut out, &envelope.encode_to_vec());
    put_netstring(&mut out, message);
    out.freeze()
}

/// go-micro's `id()`: the id parsed as a decimal int64 and reinterpreted, 0 when it does not parse
/// (so a seq of 2^63 or more comes back as 0, as it does from go-micro).
fn seq(id: &str) -> u64 {
    id.parse::<i64>().map_or(0, |n| n as u64)
}

fn put_netstring(out: &mut BytesMut, data: &[u8]) {
    // Bodies are far below 4 GiB: the frame reader caps them at the message limit.
    out.put_u32(u32::try_from(data.len()).unwrap_or(u32::MAX));
    out.put_slice(data);
}

/// Takes one netstring off the front of `buf`. go-micro trusts the length (it allocates that many
/// bytes and reads what is there); micro refuses lengths over the limit and short data.
fn netstring(buf: &mut Bytes, limit: usize, what: &'static str) -> Result<Bytes, LegacyError> {
    let Some(length) = buf.first_chunk::<4>().map(|b| u32::from_be_bytes(*b)) else {
        return Err(LegacyError::Truncated {
            what,
            expected: 4,
            got: buf.len(),
        });
    };
    let length = length as usize;
    if length > limit {
        return Err(LegacyError::TooLarge {
            what,
            length,
            limit,
        });
    }
    if buf.len() - 4 < length {
        return Err(LegacyError::Truncated {
            what,
            expected: 4 + length,
            got: buf.len(),
        });
    }
    let mut data = buf.split_to(4 + length);
    Ok(data.split_off(4))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 4 * 1024 * 1024;

    /// What go-micro's protorpc client writes for `Greeter.Hello` seq 7 `{name: "Ann"}`:
    /// `WriteNetString(proto.Marshal(Request))` then `WriteNetString(proto.Marshal(msg))`.
    fn go_request() -> Vec<u8> {
        let mut envelope = vec![0x0a, 13];
        envelope.extend_from_slice(b"Greeter.Hello");
        envelope.extend_from_slice(&[0x11, 7, 0, 0, 0, 0, 0, 0, 0]);
        let message = [0x0a, 3, b'A', b'n', b'n'];
        let mut out = (envelope.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&envelope);
        out.extend_from_slice(&(message.len() as u32).to_be_bytes());
        out.extend_from_slice(&message);
        out
    }

    #[test]
    fn reads_a_go_micro_client_request() {
        let body = Bytes::from(go_request());
        assert_eq!(&body[..4], [0, 0, 0, 24]);
        let request = Request::decode(&body, LIMIT).unwrap();
        assert_eq!(request.method, "Greeter.Hello");
        assert_eq!(request.id, "7");
        assert_eq!(
            &request.into_message().unwrap()[..],
            [0x0a, 3, b'A', b'n', b'n']
        );
    }

    #[test]
    fn responses_are_written_byte_for_byte_as_go_micro_writes_them() {
        let reply = encode_response("7", &[0x0a, 1, b'x'], "");
        let mut expected = vec![0, 0, 0, 9, 0x11, 7, 0, 0, 0, 0, 0, 0, 0];
        expected.extend_from_slice(&[0, 0, 0, 3, 0x0a, 1, b'x']);
        assert_eq!(&reply[..], expected);
        // An error: seq 0 is left out, the error is field 3, the message netstring is empty.
        let error = encode_response("", &[], "rpc: can't find method Nope");
        let mut expected = vec![0, 0, 0, 29, 0x1a, 27];
        expected.extend_from_slice(b"rpc: can't find method Nope");
        expected.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(&error[..], expected);
    }

    #[test]
    fn seqs_round_trip_as_go_micro_echoes_them() {
        for (seq_in, seq_out) in [
            (0, 0),
            (1, 1),
            (i64::MAX as u64, i64::MAX as u64),
            (1 << 63, 0),
        ] {
            let mut body = BytesMut::new();
            let envelope = RequestEnvelope {
                service_method: "A.B".into(),
                seq: seq_in,
            };
            put_netstring(&mut body, &envelope.encode_to_vec());
            put_netstring(&mut body, &[]);
            let request = Request::decode(&body.freeze(), LIMIT).unwrap();
            let reply = encode_response(&request.id, &[], "");
            let mut reply = reply;
            let envelope = netstring(&mut reply, LIMIT, "envelope").unwrap();
            let envelope = ResponseEnvelope::decode(envelope).unwrap();
            assert_eq!(envelope.seq, seq_out, "seq {seq_in}");
            assert_eq!(&reply[..], [0, 0, 0, 0]);
        }
    }

    #[test]
    fn truncated_netstrings_are_refused() {
        let full = go_request();
        for cut in [0, 3, 4, 27] {
            let err = Request::decode(&Bytes::copy_from_slice(&full[..cut]), LIMIT).unwrap_err();
            assert!(
                matches!(
                    err,
                    LegacyError::Truncated {
                        what: "envelope",
                        ..
                    }
                ),
                "{cut}: {err}"
            );
        }
        // The message netstring cut short, or missing, only fails once the message is asked for.
        for cut in [30, 33, full.len() - 1] {
            let request = Request::decode(&Bytes::copy_from_slice(&full[..cut]), LIMIT).unwrap();
            let err = request.into_message().unwrap_err();
            assert!(
                matches!(
                    err,
                    LegacyError::Truncated {
                        what: "message",
                        ..
                    }
                ),
                "{cut}: {err}"
            );
        }
        let err = Request::decode(&Bytes::copy_from_slice(&full[..3]), LIMIT).unwrap_err();
        assert_eq!(
            err.to_string(),
            "rpc: router cannot decode request: proto-rpc: the envelope netstring is cut short: 3 bytes where at least 4 were expected"
        );
        let missing = Request::decode(&Bytes::copy_from_slice(&full[..28]), LIMIT).unwrap();
        assert!(
            missing
                .into_message()
                .unwrap_err()
                .to_string()
                .contains("missing")
        );
    }

    #[test]
    fn lengths_over_the_message_limit_are_refused_without_allocating() {
        let body = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 1, 2]);
        let err = Request::decode(&body, LIMIT).unwrap_err();
        assert!(
            matches!(
                err,
                LegacyError::TooLarge {
                    length: 0xffff_ffff,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("4294967295 bytes"), "{err}");
        let mut body = go_request();
        body.truncate(28);
        body.extend_from_slice(&[0, 0, 1, 0]);
        let request = Request::decode(&Bytes::from(body), 255).unwrap();
        let err = request.into_message().unwrap_err();
        assert!(matches!(
            err,
            LegacyError::TooLarge {
                what: "message",
                length: 256,
                limit: 255
            }
        ));
    }

    #[test]
    fn an_envelope_that_is_not_protobuf_is_refused() {
        let body = Bytes::from_static(&[0, 0, 0, 2, 0x0a, 9]);
        let err = Request::decode(&body, LIMIT).unwrap_err().to_string();
        assert!(err.contains("bad request envelope"), "{err}");
        // An empty envelope is an empty method, which routing then calls ill-formed, as in go-micro.
        let empty = Request::decode(&Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 0]), LIMIT).unwrap();
        assert_eq!((empty.method.as_str(), empty.id.as_str()), ("", "0"));
    }
}
