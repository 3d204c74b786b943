//! Reading nodes out of mDNS responses, from us, go-micro or anyone else on the link.
//!
//! Like go-micro's client (`messageToEntry`), an instance is whatever has an SRV or TXT record;
//! its address is the A/AAAA record of the SRV target in the same message (or of the instance
//! name itself). Anything malformed is skipped with a warning and never stops the caller.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RData, RecordType};

use super::name::{self, Names};
use super::record;
use crate::registry::{Node, ServiceRecord};

/// One instance as a message describes it.
#[derive(Debug, Default)]
struct Instance {
    // The smallest TTL of its SRV and TXT: 0 means goodbye.
    ttl: Option<u32>,
    srv: Option<(u16, Name)>,
    txt: Option<Vec<Box<[u8]>>>,
}

/// A node found in a response: its service (without nodes), the node, and the record TTL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Found {
    pub service: ServiceRecord,
    pub node: Node,
    /// Seconds; 0 is a goodbye.
    pub ttl: u32,
}

/// Every node of our domain in `message`; `only` keeps one service's.
pub(super) fn nodes(names: &Names, message: &Message, only: Option<&str>) -> Vec<Found> {
    let mut instances: Vec<(Name, Instance)> = Vec::new();
    let mut addrs: HashMap<Name, IpAddr> = HashMap::new();
    for record in message.answers.iter().chain(&message.additionals) {
        let slot = |instances: &mut Vec<(Name, Instance)>| -> usize {
            match instances.iter().position(|(n, _)| *n == record.name) {
                Some(i) => i,
                None => {
                    instances.push((record.name.clone(), Instance::default()));
                    instances.len() - 1
                }
            }
        };
        match &record.data {
            RData::SRV(srv) => {
                let i = slot(&mut instances);
                instances[i].1.srv = Some((srv.port, srv.target.clone()));
                instances[i].1.merge_ttl(record.ttl);
            }
            RData::TXT(txt) => {
                let i = slot(&mut instances);
                instances[i].1.txt = Some(txt.txt_data.to_vec());
                instances[i].1.merge_ttl(record.ttl);
            }
            // A TXT with no strings decodes as an empty "update" record.
            RData::Update0(RecordType::TXT) => {
                let i = slot(&mut instances);
                instances[i].1.txt = Some(Vec::new());
                instances[i].1.merge_ttl(record.ttl);
            }
            RData::A(a) => {
                addrs.insert(record.name.clone(), IpAddr::V4(a.0));
            }
            RData::AAAA(aaaa) => {
                addrs.insert(record.name.clone(), IpAddr::V6(aaaa.0));
            }
            _ => {}
        }
    }
    instances
        .into_iter()
        .filter(|(name, _)| names.in_domain(name) && names.wildcard_service(name).is_none())
        .filter_map(|(name, instance)| {
            let found = instance.into_node(names, &name, &addrs, only);
            if let Err(Some(why)) = &found {
                tracing::warn!(instance = %name, "mdns: skipping a malformed record: {why}");
            }
            found.ok()
        })
        .collect()
}

/// The service names in a listing response (`<service>._services.<domain>.`), skipping goodbyes.
pub(super) fn listed(names: &Names, message: &Message) -> Vec<String> {
    let mut listed = Vec::new();
    for record in message.answers.iter().chain(&message.additionals) {
        let name = match &record.data {
            RData::PTR(ptr) => &ptr.0,
            RData::SRV(_) => &record.name,
            _ => continue,
        };
        if record.ttl > 0
            && let Some(service) = names.wildcard_service(name)
        {
            listed.push(service);
        }
    }
    listed
}

impl Instance {
    fn merge_ttl(&mut self, ttl: u32) {
        self.ttl = Some(self.ttl.map_or(ttl, |t| t.min(ttl)));
    }

    // Err(None): not for this caller, quietly; Err(Some(why)): malformed, worth a warning.
    fn into_node(
        self,
        names: &Names,
        name: &Name,
        addrs: &HashMap<Name, IpAddr>,
        only: Option<&str>,
    ) -> Result<Found, Option<String>> {
        let ttl = self.ttl.unwrap_or(0);
        let Some(txt) = self.txt else {
            // A lone SRV (e.g. go-micro's probe) tells us nothing we can use.
            return Err(None);
        };
        let txt = record::decode(txt.iter().map(|s| &s[..])).map_err(|e| Some(e.to_string()))?;
        if only.is_some_and(|want| want != txt.service) {
            return Err(None);
        }
        let id = names.node_id(name, &txt.service).ok_or_else(|| {
            Some(format!(
                "instance name {:?} is not <node-id>.{}.<domain>",
                name::text(name).unwrap_or_default(),
                txt.service
            ))
        })?;
        // A goodbye needs no address: it only names the node that left.
        let address = match (&self.srv, ttl) {
            (Some((port, target)), _) => match addrs.get(target).or_else(|| addrs.get(name)) {
                Some(ip) => SocketAddr::new(*ip, *port).to_string(),
                None if ttl == 0 => String::new(),
                None => return Err(Some("no A/AAAA record for the SRV target".into())),
            },
            (None, 0) => String::new(),
            (None, _) => return Err(Some("TXT without an SRV record".into())),
        };
        Ok(Found {
            service: ServiceRecord {
                name: txt.service,
                version: txt.version,
                metadata: None,
                endpoints: txt.endpoints,
                nodes: Vec::new(),
            },
            node: Node {
                metadata: txt.metadata,
                id,
                address,
            },
            ttl,
        })
    }
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::{MessageType, OpCode, Query};

    use super::*;
    use crate::registry::mdns::engine;
    use crate::registry::mdns::zone::Zone;

    fn zone() -> Zone {
        let mut zone = Zone::new(Names::new("micro"), Name::from_ascii("host.").unwrap());
        let service = ServiceRecord {
            name: "greeter".into(),
            version: "1.0.0".into(),
            nodes: vec![Node {
                id: "greeter-1".into(),
                address: "127.0.0.1:9001".into(),
                ..Node::default()
            }],
            ..ServiceRecord::default()
        };
        let locals = zone.prepare(&service, None).unwrap();
        zone.insert(locals);
        zone
    }

    // Through bytes, as a peer would receive it.
    fn answer(zone: &Zone, name: Name, kind: RecordType) -> Vec<Message> {
        zone.answer(&Query::query(name, kind))
            .into_iter()
            .map(|group| {
                let mut message = Message::new(0, MessageType::Response, OpCode::Query);
                message.add_answers(group);
                engine::decode(&message.to_vec().unwrap()).unwrap()
            })
            .collect()
    }

    #[test]
    fn a_service_answer_reads_back_as_the_node() {
        let zone = zone();
        let names = Names::new("micro");
        let messages = answer(&zone, names.service("greeter").unwrap(), RecordType::PTR);
        assert_eq!(messages.len(), 1);
        let found = nodes(&names, &messages[0], Some("greeter"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].node.address, "127.0.0.1:9001");
        assert_eq!(found[0].ttl, 120);
        assert!(nodes(&names, &messages[0], Some("other")).is_empty());
    }

    #[test]
    fn a_listing_answer_reads_back_as_the_service_name() {
        let zone = zone();
        let names = Names::new("micro");
        let messages = answer(&zone, names.services().unwrap(), RecordType::PTR);
        assert_eq!(messages.len(), 1);
        assert_eq!(listed(&names, &messages[0]), ["greeter", "greeter"]);
        // The wildcard instance is not a node.
        assert!(nodes(&names, &messages[0], None).is_empty());
    }

    #[test]
    fn a_go_micro_listing_entry_with_an_empty_txt_decodes() {
        let names = Names::new("micro");
        let wildcard = names.wildcard("greeter").unwrap();
        let mut message = Message::new(0, MessageType::Response, OpCode::Query);
        message.add_answer(hickory_proto::rr::Record::from_rdata(
            wildcard.clone(),
            120,
            RData::TXT(hickory_proto::rr::rdata::TXT::new(Vec::new())),
        ));
        message.add_answer(hickory_proto::rr::Record::from_rdata(
            wildcard,
            120,
            RData::SRV(hickory_proto::rr::rdata::SRV::new(
                10,
                1,
                9999,
                Name::root(),
            )),
        ));
        let bytes = message.to_vec().unwrap();
        assert!(
            Message::from_vec(&bytes).is_err(),
            "hickory alone rejects it"
        );
        let message = engine::decode(&bytes).unwrap();
        assert_eq!(listed(&names, &message), ["greeter"]);
    }
}
