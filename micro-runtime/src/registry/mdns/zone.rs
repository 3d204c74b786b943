//! The nodes this registry has registered, and the records that describe them.
//!
//! Answers follow hashicorp/mdns's zone (go-micro's `internal/util/mdns/zone.go`): a service name
//! is answered with a PTR to each instance plus the instance's SRV, address and TXT; an instance
//! name with the records of the asked type; DNS-SD enumeration with PTRs to the service names.
//! Each node's records form one group, sent as one message, so a reader never has to guess which
//! address belongs to which SRV.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::Query;
use hickory_proto::rr::rdata::{A, AAAA, PTR, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::time::Instant;

use super::name::Names;
use super::record::{self, Txt};
use crate::registry::{Node, ServiceRecord};
use crate::{LocalError, LocalErrorKind};

/// go-micro's record TTL (zone.go `defaultTTL`), used when a registration has none.
pub(super) const DEFAULT_TTL: u32 = 120;
// go-micro's wildcard instance for listing: port 9999, address 0.0.0.0.
const WILDCARD_PORT: u16 = 9999;

/// One registered node and its names, ready to answer with.
#[derive(Clone, Debug)]
pub(super) struct Local {
    pub service: ServiceRecord,
    pub node: Node,
    service_name: Name,
    instance: Name,
    wildcard: Name,
    addr: SocketAddr,
    txt: Vec<String>,
    pub ttl: u32,
    expires: Option<Instant>,
    /// Which registration this is: a later announcement goes out only if nothing replaced it.
    pub serial: u64,
}

/// Every node registered here.
#[derive(Debug)]
pub(super) struct Zone {
    names: Names,
    host: Name,
    // In registration order.
    nodes: Vec<Local>,
    serial: u64,
}

impl Zone {
    pub(super) fn new(names: Names, host: Name) -> Self {
        Self {
            names,
            host,
            nodes: Vec::new(),
            serial: 0,
        }
    }

    /// Checks `service`'s nodes can be expressed in mDNS and builds their records' parts.
    pub(super) fn prepare(
        &self,
        service: &ServiceRecord,
        ttl: Option<Duration>,
    ) -> Result<Vec<Local>, LocalError> {
        let names = &self.names;
        let ttl_secs = match ttl.filter(|t| !t.is_zero()) {
            // Whole seconds, rounded up so a record never expires before the registration does.
            Some(t) => u32::try_from(t.as_millis().div_ceil(1000)).unwrap_or(u32::MAX),
            None => DEFAULT_TTL,
        };
        let expires = ttl.filter(|t| !t.is_zero()).map(|t| Instant::now() + t);
        let template = ServiceRecord {
            nodes: Vec::new(),
            ..service.clone()
        };
        service
            .nodes
            .iter()
            .map(|node| {
                let addr: SocketAddr = node.address.parse().map_err(|_| {
                    LocalError::new(
                        LocalErrorKind::Registry,
                        format!(
                            "mdns: node {} address {:?} must be ip:port, as A/AAAA and SRV records carry it",
                            node.id, node.address
                        ),
                    )
                })?;
                let txt = record::encode(&Txt {
                    service: service.name.clone(),
                    version: service.version.clone(),
                    endpoints: service.endpoints.clone(),
                    metadata: node.metadata.clone(),
                });
                Ok(Local {
                    service: template.clone(),
                    node: node.clone(),
                    service_name: names.service(&service.name)?,
                    instance: names.instance(&service.name, &node.id)?,
                    wildcard: names.wildcard(&service.name)?,
                    addr,
                    txt,
                    ttl: ttl_secs,
                    expires,
                    serial: 0,
                })
            })
            .collect()
    }

    /// Adds or replaces nodes (by service name and node id); returns them as stored.
    pub(super) fn insert(&mut self, locals: Vec<Local>) -> Vec<Local> {
        let now = Instant::now();
        self.nodes.retain(|l| l.live(now));
        let mut stored = Vec::new();
        for mut local in locals {
            self.serial += 1;
            local.serial = self.serial;
            stored.push(local.clone());
            match self.nodes.iter_mut().find(|l| l.same_node(&local)) {
                Some(slot) => *slot = local,
                None => self.nodes.push(local),
            }
        }
        stored
    }

    /// Removes `service`'s nodes; returns them and whether the service has no node left here.
    pub(super) fn remove(&mut self, service: &ServiceRecord) -> (Vec<Local>, bool) {
        let mut removed = Vec::new();
        self.nodes.retain(|l| {
            let gone =
                l.service.name == service.name && service.nodes.iter().any(|n| n.id == l.node.id);
            if gone {
                removed.push(l.clone());
            }
            !gone
        });
        let last = !self.nodes.iter().any(|l| l.service.name == service.name);
        (removed, last)
    }

    /// The live node registered under `service` and `id`, if any.
    pub(super) fn get(&self, service: &str, id: &str) -> Option<&Local> {
        let now = Instant::now();
        self.nodes
            .iter()
            .find(|l| l.service.name == service && l.node.id == id && l.live(now))
    }

    /// The live nodes of `service`.
    pub(super) fn nodes_of(&self, service: &str) -> Vec<Local> {
        let now = Instant::now();
        self.live(now)
            .filter(|l| l.service.name == service)
            .cloned()
            .collect()
    }

    /// The names of every service with a live node, each once.
    pub(super) fn service_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .live(Instant::now())
            .map(|l| l.service.name.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The answers to `query`, one group of records per message to send.
    pub(super) fn answer(&self, query: &Query) -> Vec<Vec<Record>> {
        let (name, kind) = (query.name(), query.query_type());
        let asks = |t: RecordType| kind == t || kind == RecordType::ANY;
        let now = Instant::now();
        let mut groups = Vec::new();
        let first_per_service: Vec<&Local> = {
            let mut seen: Vec<&str> = Vec::new();
            self.live(now)
                .filter(|l| {
                    let new = !seen.contains(&l.service.name.as_str());
                    seen.push(&l.service.name);
                    new
                })
                .collect()
        };
        if asks(RecordType::PTR) && self.names.enumeration().is_ok_and(|n| n == *name) {
            let mut ptrs: Vec<Record> = first_per_service
                .iter()
                .map(|l| ptr(name, &l.service_name, l.ttl))
                .collect();
            if let (Some(first), Ok(services)) = (first_per_service.first(), self.names.services())
            {
                ptrs.push(ptr(name, &services, first.ttl));
            }
            groups.push(ptrs);
        }
        if asks(RecordType::PTR) && self.names.services().is_ok_and(|n| n == *name) {
            for l in &first_per_service {
                let mut group = vec![ptr(name, &l.wildcard, l.ttl)];
                group.extend(self.wildcard_records(l, RecordType::ANY, l.ttl));
                groups.push(group);
            }
        }
        for l in &first_per_service {
            if l.wildcard == *name {
                groups.push(self.wildcard_records(l, kind, l.ttl));
            }
        }
        for l in self.live(now) {
            if l.service_name == *name && asks(RecordType::PTR) {
                let mut group = vec![ptr(name, &l.instance, l.ttl)];
                group.extend(self.node_records(l, RecordType::ANY, l.ttl));
                groups.push(group);
            } else if l.instance == *name {
                groups.push(self.node_records(l, kind, l.ttl));
            } else if self.host == *name {
                groups.push(
                    self.node_records(l, kind, l.ttl)
                        .into_iter()
                        .filter(|r| r.name == self.host)
                        .collect(),
                );
            }
        }
        groups.retain(|g| !g.is_empty());
        groups
    }

    /// What announces a node (and what says goodbye to it, with `ttl` 0): PTR, SRV, address, TXT.
    pub(super) fn announcement(&self, local: &Local, ttl: u32) -> Vec<Record> {
        let mut group = vec![ptr(&local.service_name, &local.instance, ttl)];
        group.extend(self.node_records(local, RecordType::ANY, ttl));
        group
    }

    /// What announces a service's listing entry (or says goodbye to it, with `ttl` 0).
    pub(super) fn wildcard_announcement(&self, local: &Local, ttl: u32) -> Vec<Record> {
        let mut group = Vec::new();
        if let Ok(services) = self.names.services() {
            group.push(ptr(&services, &local.wildcard, ttl));
        }
        group.extend(self.wildcard_records(local, RecordType::ANY, ttl));
        group
    }

    fn node_records(&self, l: &Local, kind: RecordType, ttl: u32) -> Vec<Record> {
        let addr = match l.addr.ip() {
            IpAddr::V4(ip) => RData::A(A(ip)),
            IpAddr::V6(ip) => RData::AAAA(AAAA(ip)),
        };
        let txt = RData::TXT(TXT::new(l.txt.clone()));
        self.instance_records(&l.instance, l.addr.port(), addr, txt, kind, ttl)
    }

    fn wildcard_records(&self, l: &Local, kind: RecordType, ttl: u32) -> Vec<Record> {
        // go-micro's wildcard has no TXT data, but Go clients wait for a TXT record, so send
        // RFC 6763's empty form: one empty string (go-micro sends none, which we also accept).
        let addr = RData::A(A(Ipv4Addr::UNSPECIFIED));
        let txt = RData::TXT(TXT::new(vec![String::new()]));
        self.instance_records(&l.wildcard, WILDCARD_PORT, addr, txt, kind, ttl)
    }

    fn instance_records(
        &self,
        instance: &Name,
        port: u16,
        addr: RData,
        txt: RData,
        kind: RecordType,
        ttl: u32,
    ) -> Vec<Record> {
        // Priority 10, weight 1 as go-micro's zone; the address hangs off the SRV target.
        let srv = RData::SRV(SRV::new(10, 1, port, self.host.clone()));
        let addr_kind = addr.record_type();
        let mut records = Vec::new();
        if kind == RecordType::ANY || kind == RecordType::SRV {
            records.push(Record::from_rdata(instance.clone(), ttl, srv));
        }
        if matches!(kind, RecordType::ANY | RecordType::SRV) || kind == addr_kind {
            records.push(Record::from_rdata(self.host.clone(), ttl, addr));
        }
        if kind == RecordType::ANY || kind == RecordType::TXT {
            records.push(Record::from_rdata(instance.clone(), ttl, txt));
        }
        records
    }

    fn live(&self, now: Instant) -> impl Iterator<Item = &Local> {
        self.nodes.iter().filter(move |l| l.live(now))
    }
}

impl Local {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| at > now)
    }

    fn same_node(&self, other: &Local) -> bool {
        self.service.name == other.service.name && self.node.id == other.node.id
    }
}

fn ptr(name: &Name, target: &Name, ttl: u32) -> Record {
    Record::from_rdata(name.clone(), ttl, RData::PTR(PTR(target.clone())))
}
