//! go-micro v6.10.0's etcd registry records (`go-micro-wire/registry-etcd`, described in the
//! README there) replayed through micro: every value decodes into micro's registry types and
//! re-encodes to the same bytes, micro's etcd registry writes each under go-micro's key, and a
//! micro subscriber advertises the endpoint a Go subscriber of the same message does.

use std::sync::Arc;

use micro_runtime::broker::MemoryBroker;
use micro_runtime::registry::{EtcdRegistry, Registry, ServiceRecord};
use micro_runtime::server::Server;
use micro_runtime::{Context, Error};
use tests::etcd::EtcdServer;
use tests::proto::events::OrderPlaced;
use tests::{support, wire};

/// One record go-micro wrote: its key and its exact value.
struct GoRecord {
    name: String,
    key: String,
    value: Vec<u8>,
}

/// Every `<name>-value.json` of the corpus with its `<name>-key.txt`, so a record added to the
/// corpus is replayed without touching this file.
fn go_records() -> Vec<GoRecord> {
    let dir = wire::dir().join("registry-etcd");
    let mut records: Vec<GoRecord> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|file| file.strip_suffix("-value.json").map(str::to_owned))
        .map(|name| GoRecord {
            key: String::from_utf8(wire::read(&format!("registry-etcd/{name}-key.txt")))
                .expect("a UTF-8 key"),
            value: wire::read(&format!("registry-etcd/{name}-value.json")),
            name,
        })
        .collect();
    records.sort_by(|a, b| a.name.cmp(&b.name));
    let names: Vec<&str> = records.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["greeter", "micro.http.broker", "streaming"]);
    records
}

fn decode(record: &GoRecord) -> ServiceRecord {
    serde_json::from_slice(&record.value)
        .unwrap_or_else(|e| panic!("{}: not a registry record: {e}", record.name))
}

#[test]
fn every_go_value_re_encodes_to_the_same_bytes() {
    for record in go_records() {
        let service = decode(&record);
        assert_eq!(service.nodes.len(), 1, "{}: one node per key", record.name);
        let ours = serde_json::to_string(&service).unwrap();
        assert_eq!(
            ours,
            String::from_utf8(record.value.clone()).unwrap(),
            "{}",
            record.name
        );
    }
}

#[tokio::test]
async fn micro_writes_go_micros_key_and_value_for_every_go_record() {
    let etcd = EtcdServer::start().await;
    let registry = EtcdRegistry::new(etcd.options()).expect("valid options");
    let records = go_records();
    for record in &records {
        registry.register(&decode(record), None).await.unwrap();
    }
    let mut raw = etcd_client::Client::connect([etcd.client_address()], None)
        .await
        .expect("raw etcd client");
    let reply = raw
        .get(
            "/micro/registry/",
            Some(etcd_client::GetOptions::new().with_prefix()),
        )
        .await
        .unwrap();
    let mut written: Vec<(String, Vec<u8>)> = reply
        .kvs()
        .iter()
        .map(|kv| (kv.key_str().unwrap().to_owned(), kv.value().to_vec()))
        .collect();
    written.sort();
    let mut expected: Vec<(String, Vec<u8>)> = records
        .iter()
        .map(|r| (r.key.clone(), r.value.clone()))
        .collect();
    expected.sort();
    assert_eq!(written.len(), expected.len());
    for ((key, value), (go_key, go_value)) in written.iter().zip(&expected) {
        assert_eq!(key, go_key);
        assert_eq!(
            String::from_utf8_lossy(value),
            String::from_utf8_lossy(go_value),
            "{key}"
        );
    }
}

#[tokio::test]
async fn micro_reads_every_go_record_from_etcd() {
    let etcd = EtcdServer::start().await;
    let mut raw = etcd_client::Client::connect([etcd.client_address()], None)
        .await
        .expect("raw etcd client");
    let records = go_records();
    for record in &records {
        raw.put(record.key.as_str(), record.value.clone(), None)
            .await
            .unwrap();
    }
    let registry = EtcdRegistry::new(etcd.options()).expect("valid options");
    for record in &records {
        let service = decode(record);
        assert_eq!(
            registry.get_service(&service.name).await.unwrap(),
            [service],
            "{}",
            record.name
        );
    }
}

#[tokio::test]
async fn a_subscriber_advertises_the_endpoint_go_micro_does() {
    // go-micro's `streaming` test server subscribes a function to `orders` for OrderPlaced.
    let streaming = go_records()
        .into_iter()
        .find(|r| r.name == "streaming")
        .unwrap();
    let go_json: serde_json::Value = serde_json::from_slice(&streaming.value).unwrap();
    let go_endpoint = go_json["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "Func")
        .expect("go-micro's subscriber endpoint")
        .clone();

    let registry = support::registry();
    let server = Server::new("streaming")
        .registry(Arc::clone(&registry))
        .broker(Arc::new(MemoryBroker::new()))
        .subscribe("orders", |_ctx: Context, _order: OrderPlaced| async {
            Ok::<(), Error>(())
        })
        .start()
        .await
        .unwrap();
    let services = registry.get_service("streaming").await.unwrap();
    server.stop().await.unwrap();

    let ours = services[0]
        .endpoints
        .iter()
        .find(|e| e.name == "Func")
        .expect("micro's subscriber endpoint");
    assert_eq!(serde_json::to_value(ours).unwrap(), go_endpoint);
    // And byte for byte, in the registry's field order.
    let go_bytes = serde_json::to_string(&decode(&streaming).endpoints.last().unwrap()).unwrap();
    assert_eq!(serde_json::to_string(ours).unwrap(), go_bytes);
}
