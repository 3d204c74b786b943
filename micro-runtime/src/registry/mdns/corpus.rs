//! go-micro v6.10.0's own mDNS messages (`tests/go-micro-wire/registry-mdns`, described in the
//! README there), read with micro's decoder and set against the records micro writes for the same
//! node: the TXT JSON byte for byte, and the records of an announcement, an answer and a goodbye.
//!
//! Where micro's messages differ on purpose (extra PTR, the AA bit, TTLs from the registration),
//! the test names the difference rather than ignoring it.

use std::path::PathBuf;

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::engine;
use super::entry::{self, Found};
use super::name::Names;
use super::record;
use super::zone::{DEFAULT_TTL, Local, Zone};
use crate::registry::ServiceRecord;

// The node go-micro registered for the capture.
const NODE_ID: &str = "greeter-f89b1959-1f6c-41c9-af8e-2af3fe697583";
// The capture machine's host name, the SRV target.
const HOST: &str = "vm.";

fn corpus(file: &str) -> Message {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/go-micro-wire/registry-mdns")
        .join(file);
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("corpus file {}: {e}", path.display()));
    engine::decode(&bytes).unwrap_or_else(|e| panic!("{file} does not decode: {e}"))
}

fn records(message: &Message) -> impl Iterator<Item = &Record> {
    message
        .answers
        .iter()
        .chain(&message.authorities)
        .chain(&message.additionals)
}

fn txt_strings(record: &Record) -> Vec<&[u8]> {
    match &record.data {
        RData::TXT(txt) => txt.txt_data.iter().map(|s| &s[..]).collect(),
        other => panic!("not a TXT record: {other:?}"),
    }
}

/// A record as far as two writers must agree: everything but the TXT's zlib stream, which is
/// compared by the JSON inside (Go's compress/zlib and flate2 choose different matches).
fn shape(record: &Record) -> String {
    let data = match &record.data {
        RData::TXT(_) => String::from_utf8(record::inflate(txt_strings(record)).unwrap()).unwrap(),
        other => other.to_string(),
    };
    format!(
        "{} {} {} ttl={} flush={} {data}",
        record.name,
        record.dns_class,
        record.record_type(),
        record.ttl,
        record.mdns_cache_flush
    )
}

/// The node go-micro announced, as micro reads it.
fn go_node() -> Found {
    let names = Names::new("micro");
    let mut found = entry::nodes(&names, &corpus("04-announce.bin"), Some("greeter"));
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

/// micro's zone holding that same node, on a host of the same name.
fn zone_with_go_node() -> (Zone, Local) {
    let found = go_node();
    let mut zone = Zone::new(Names::new("micro"), Name::from_ascii(HOST).unwrap());
    let service = ServiceRecord {
        nodes: vec![found.node],
        ..found.service
    };
    let locals = zone.prepare(&service, None).unwrap();
    let mut stored = zone.insert(locals);
    (zone, stored.remove(0))
}

/// Checks `ours` carries every record of `go` with the same fields, in the same order, and
/// returns the records only micro sends.
fn same_records_plus(go: &[Record], ours: &[Record]) -> Vec<String> {
    let go: Vec<String> = go.iter().map(shape).collect();
    let ours: Vec<String> = ours.iter().map(shape).collect();
    let common: Vec<&String> = ours.iter().filter(|r| go.contains(r)).collect();
    assert_eq!(
        common,
        go.iter().collect::<Vec<_>>(),
        "go-micro's records, in order, within micro's:\n{ours:#?}"
    );
    ours.into_iter().filter(|r| !go.contains(r)).collect()
}

#[test]
fn micro_re_encodes_every_go_txt_as_go_micros_exact_json() {
    for file in [
        "01-probe.bin",
        "04-announce.bin",
        "08-response.bin",
        "09-goodbye.bin",
    ] {
        let message = corpus(file);
        let txt = records(&message)
            .find(|r| r.record_type() == RecordType::TXT)
            .unwrap_or_else(|| panic!("{file} has a TXT record"));
        let go_json = record::inflate(txt_strings(txt)).unwrap();
        let decoded = record::decode(txt_strings(txt)).unwrap();
        let ours = record::encode(&decoded);
        let our_json = record::inflate(ours.iter().map(|s| s.as_bytes())).unwrap();
        assert_eq!(
            String::from_utf8(our_json).unwrap(),
            String::from_utf8(go_json).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn micro_reads_go_micros_announcement_answer_and_goodbye_as_the_node() {
    let names = Names::new("micro");
    let announced = go_node();
    assert_eq!(announced.node.id, NODE_ID);
    assert_eq!(announced.node.address, "127.0.0.1:18140");
    assert_eq!(announced.node.metadata["registry"], "mdns");
    assert_eq!(announced.service.name, "greeter");
    assert_eq!(announced.service.endpoints[0].name, "Greeter.Hello");
    assert_eq!(announced.ttl, 120);

    let answered = entry::nodes(&names, &corpus("08-response.bin"), Some("greeter"));
    assert_eq!(answered, std::slice::from_ref(&announced));

    let goodbye = entry::nodes(&names, &corpus("09-goodbye.bin"), Some("greeter"));
    assert_eq!(goodbye.len(), 1);
    assert_eq!(goodbye[0].ttl, 0);
    assert_eq!(goodbye[0].node, announced.node);
}

#[test]
fn micro_announces_and_says_goodbye_with_go_micros_records_plus_a_ptr() {
    let (zone, local) = zone_with_go_node();
    let ptr = format!("greeter.micro. IN PTR ttl={{}} flush=false {NODE_ID}.greeter.micro.");
    // go-micro's announcement: SRV (10, 1), A of the host, TXT; micro adds the PTR that
    // RFC 6762 §8.3 asks for, which go-micro's readers ignore.
    let extra = same_records_plus(
        &corpus("04-announce.bin").answers,
        &zone.announcement(&local, DEFAULT_TTL),
    );
    assert_eq!(extra, [ptr.replace("{}", "120")]);
    // The goodbye: the same records with TTL 0.
    let extra = same_records_plus(
        &corpus("09-goodbye.bin").answers,
        &zone.announcement(&local, 0),
    );
    assert_eq!(extra, [ptr.replace("{}", "0")]);
}

#[test]
fn micro_answers_a_service_query_with_go_micros_records() {
    let (zone, _) = zone_with_go_node();
    let query = corpus("07-query.bin");
    assert_eq!(query.queries.len(), 1);
    let groups = zone.answer(&query.queries[0]);
    assert_eq!(groups.len(), 1, "one node, one message");
    let response = corpus("08-response.bin");
    assert_eq!(
        response.queries,
        [Query::query(
            Name::from_ascii("greeter.micro.").unwrap(),
            RecordType::PTR
        )]
    );
    // PTR to the instance, SRV, A, TXT: exactly go-micro's answer.
    let extra = same_records_plus(&response.answers, &groups[0]);
    assert!(extra.is_empty(), "{extra:#?}");
}
