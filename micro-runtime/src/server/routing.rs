//! [`Routing`]: the headers a request is dispatched by, found in one pass over its headers.
//!
//! Every request needs about ten of them (`Micro-Id`, `Micro-Endpoint`, `Content-Type`,
//! `Timeout`, ...), each with go-micro's `X-Micro-*` alias. Looking each up with its own scan
//! costs more than the rest of reading the request, so one pass records them all.

use crate::transport::Headers;

/// A routing header's value, as go-micro's server `getHeader` reads it: the plain name wins unless
/// it is empty, then the `X-` alias (see [`Headers::get_micro`]).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Micro<'a> {
    plain: Option<&'a str>,
    alias: Option<&'a str>,
}

impl<'a> Micro<'a> {
    /// The value, or `None` when neither spelling is present.
    pub(crate) fn get(self) -> Option<&'a str> {
        match self.plain {
            Some(v) if !v.is_empty() => Some(v),
            plain => self.alias.or(plain),
        }
    }

    /// Whether the header is present with a value.
    pub(crate) fn is_set(self) -> bool {
        self.get().is_some_and(|v| !v.is_empty())
    }

    fn record(&mut self, alias: bool, value: &'a str) {
        let slot = if alias {
            &mut self.alias
        } else {
            &mut self.plain
        };
        slot.get_or_insert(value);
    }
}

/// The routing headers of one request.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Routing<'a> {
    pub(crate) id: Micro<'a>,
    pub(crate) stream: Micro<'a>,
    pub(crate) endpoint: Micro<'a>,
    pub(crate) method: Micro<'a>,
    pub(crate) service: Micro<'a>,
    pub(crate) target: Micro<'a>,
    pub(crate) protocol: Micro<'a>,
    pub(crate) topic: Micro<'a>,
    /// The first `Content-Type`.
    pub(crate) content_type: Option<&'a str>,
    /// The first `Timeout`.
    pub(crate) timeout: Option<&'a str>,
}

impl<'a> Routing<'a> {
    /// Reads them from `headers`, first occurrence of each spelling winning.
    pub(crate) fn read(headers: &'a Headers) -> Self {
        let mut found = Routing::default();
        for (name, value) in headers.iter() {
            // Bytes, not `str` slicing: this runs over every header of every request.
            let bytes = name.as_bytes();
            let alias = bytes.len() > 2 && bytes[0] | 0x20 == b'x' && bytes[1] == b'-';
            let bytes = if alias { &bytes[2..] } else { bytes };
            let micro = bytes.len() > 6
                && bytes[0] | 0x20 == b'm'
                && bytes[1..6].eq_ignore_ascii_case(b"icro-");
            if !micro {
                if !alias && bytes.len() == 12 && bytes.eq_ignore_ascii_case(b"Content-Type") {
                    found.content_type.get_or_insert(value);
                } else if !alias && bytes.len() == 7 && bytes.eq_ignore_ascii_case(b"Timeout") {
                    found.timeout.get_or_insert(value);
                }
                continue;
            }
            let rest = &bytes[6..];
            let slot = match rest.len() {
                2 if rest.eq_ignore_ascii_case(b"Id") => &mut found.id,
                5 if rest.eq_ignore_ascii_case(b"Topic") => &mut found.topic,
                6 if rest.eq_ignore_ascii_case(b"Stream") => &mut found.stream,
                6 if rest.eq_ignore_ascii_case(b"Method") => &mut found.method,
                6 if rest.eq_ignore_ascii_case(b"Target") => &mut found.target,
                7 if rest.eq_ignore_ascii_case(b"Service") => &mut found.service,
                8 if rest.eq_ignore_ascii_case(b"Endpoint") => &mut found.endpoint,
                8 if rest.eq_ignore_ascii_case(b"Protocol") => &mut found.protocol,
                _ => continue,
            };
            slot.record(alias, value);
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_get_micro_reads() {
        let cases: &[&[(&str, &str)]] = &[
            &[("Micro-Endpoint", "A.B"), ("X-Micro-Endpoint", "C.D")],
            &[("X-Micro-Endpoint", "C.D"), ("micro-endpoint", "A.B")],
            &[("Micro-Endpoint", ""), ("X-Micro-Endpoint", "C.D")],
            &[("Micro-Endpoint", "")],
            &[("x-micro-endpoint", "C.D")],
            &[("Micro-Endpoint", "A.B"), ("Micro-Endpoint", "E.F")],
            &[],
        ];
        for case in cases {
            let mut headers = Headers::new();
            for (name, value) in *case {
                headers.append(*name, *value);
            }
            let routing = Routing::read(&headers);
            assert_eq!(
                routing.endpoint.get(),
                headers.get_micro("Micro-Endpoint"),
                "{case:?}"
            );
        }
    }

    #[test]
    fn finds_every_routing_header() {
        let mut headers = Headers::new();
        for (name, value) in [
            ("Host", "x"),
            ("content-type", "application/json"),
            ("Timeout", "5"),
            ("Micro-Id", "1"),
            ("Micro-Stream", "1"),
            ("X-Micro-Method", "A.B"),
            ("Micro-Service", "s"),
            ("Micro-Target", "t"),
            ("Micro-Protocol", "p"),
            ("Micro-Topic", "o"),
            (
                "X-Timeout",
                "ignored: only go-micro's Micro-* headers have aliases",
            ),
        ] {
            headers.append(name, value);
        }
        let r = Routing::read(&headers);
        assert_eq!(r.content_type, Some("application/json"));
        assert_eq!(r.timeout, Some("5"));
        let all = [
            r.id, r.stream, r.method, r.service, r.target, r.protocol, r.topic,
        ];
        assert_eq!(
            all.map(Micro::get),
            [
                Some("1"),
                Some("1"),
                Some("A.B"),
                Some("s"),
                Some("t"),
                Some("p"),
                Some("o")
            ]
        );
        assert_eq!(r.endpoint.get(), None);
    }
}
