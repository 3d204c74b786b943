//! DNS names for services and nodes, written as go-micro writes them.
//!
//! go-micro builds names as text (`<node-id>.<service>.micro.`) and its DNS library splits them at
//! dots, sending the bytes between the dots as they are. We do the same, so a service name with
//! dots spans several labels, and `/` or UTF-8 bytes travel raw inside a label. A name that cannot
//! be sent that way (an empty label, a label over 63 bytes, a name over 255) is an error.

use hickory_proto::rr::Name;

use crate::{LocalError, LocalErrorKind};

/// The names one registry domain uses.
#[derive(Clone, Debug)]
pub(super) struct Names {
    // The domain without dots around it: `micro`.
    domain: String,
}

impl Names {
    pub(super) fn new(domain: &str) -> Self {
        Self {
            domain: domain.trim_matches('.').to_string(),
        }
    }

    /// `<service>.<domain>.`: what a lookup asks for; answered with PTRs to instances.
    pub(super) fn service(&self, service: &str) -> Result<Name, LocalError> {
        check_part("service name", service)?;
        build(&format!("{service}.{}", self.domain), service)
    }

    /// `<node-id>.<service>.<domain>.`: one node's SRV, TXT and address.
    pub(super) fn instance(&self, service: &str, node: &str) -> Result<Name, LocalError> {
        check_part("service name", service)?;
        check_part("node id", node)?;
        build(&format!("{node}.{service}.{}", self.domain), node)
    }

    /// `_services.<domain>.`: what listing asks for (go-micro's wildcard service).
    pub(super) fn services(&self) -> Result<Name, LocalError> {
        build(&format!("_services.{}", self.domain), "_services")
    }

    /// `<service>._services.<domain>.`: the per-service instance listing finds.
    pub(super) fn wildcard(&self, service: &str) -> Result<Name, LocalError> {
        check_part("service name", service)?;
        build(&format!("{service}._services.{}", self.domain), service)
    }

    /// `_services._dns-sd._udp.<domain>.`: DNS-SD service enumeration.
    pub(super) fn enumeration(&self) -> Result<Name, LocalError> {
        build(&format!("_services._dns-sd._udp.{}", self.domain), "")
    }

    /// The node id in an instance name of `service`, if the name is one.
    pub(super) fn node_id(&self, instance: &Name, service: &str) -> Option<String> {
        let text = text(instance)?;
        let id = text.strip_suffix(&format!(".{service}.{}", self.domain))?;
        (!id.is_empty()).then(|| id.to_string())
    }

    /// The service in a `<service>._services.<domain>.` name, if the name is one.
    pub(super) fn wildcard_service(&self, name: &Name) -> Option<String> {
        let text = text(name)?;
        let service = text.strip_suffix(&format!("._services.{}", self.domain))?;
        (!service.is_empty()).then(|| service.to_string())
    }

    /// Whether `name` is under our domain at all (other mDNS traffic is ignored quietly).
    pub(super) fn in_domain(&self, name: &Name) -> bool {
        text(name).is_some_and(|t| {
            t.strip_suffix(&self.domain)
                .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
        })
    }
}

/// A name as text: its labels' bytes joined with dots, without the final dot; `None` if not UTF-8.
pub(super) fn text(name: &Name) -> Option<String> {
    let labels: Vec<&str> = name
        .iter()
        .map(std::str::from_utf8)
        .collect::<Result<_, _>>()
        .ok()?;
    Some(labels.join("."))
}

/// This host's name for SRV targets, as go-micro's `os.Hostname() + "."`; `localhost` if unknown.
pub(super) fn host() -> Name {
    // The kernel's per-UTS-namespace hostname; elsewhere the environment.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    build(&host, &host).unwrap_or_else(|_| build("localhost", "").expect("a valid name"))
}

fn check_part(what: &str, part: &str) -> Result<(), LocalError> {
    if part.is_empty() {
        return Err(error(format!("mdns: the {what} is empty")));
    }
    Ok(())
}

// Splits `text` at dots into raw-byte labels; `subject` names what the caller passed, for errors.
fn build(text: &str, subject: &str) -> Result<Name, LocalError> {
    let labels: Vec<&[u8]> = text.split('.').map(str::as_bytes).collect();
    if labels.iter().any(|l| l.is_empty()) {
        return Err(error(format!(
            "mdns: {subject:?} cannot be sent as a DNS name: it makes an empty label (leading, trailing or double dot)"
        )));
    }
    let mut name = Name::from_labels(labels).map_err(|err| {
        error(format!(
            "mdns: {subject:?} cannot be sent as a DNS name (labels are at most 63 bytes, names 255)"
        ))
        .with_source(err)
    })?;
    name.set_fqdn(true);
    Ok(name)
}

fn error(message: String) -> LocalError {
    LocalError::new(LocalErrorKind::Registry, message)
}

#[cfg(test)]
mod tests {
    use hickory_proto::serialize::binary::{BinDecodable, BinEncodable};

    use super::*;

    #[test]
    fn dotted_slashed_and_unicode_names_round_trip() {
        let names = Names::new("micro.");
        for (service, node) in [
            ("go.micro.srv.greeter", "go.micro.srv.greeter-1234"),
            ("api/v1/greeter", "api/v1/greeter-1"),
            ("grüße-服务", "grüße-服务-🦀"),
        ] {
            let instance = names.instance(service, node).unwrap();
            let wire = instance.to_bytes().unwrap();
            let back = Name::from_bytes(&wire).unwrap();
            assert_eq!(names.node_id(&back, service).as_deref(), Some(node));
            assert!(names.in_domain(&back));
            let wildcard = names.wildcard(service).unwrap();
            assert_eq!(names.wildcard_service(&wildcard).as_deref(), Some(service));
        }
    }

    #[test]
    fn names_that_cannot_be_labels_are_clear_errors() {
        let names = Names::new("micro");
        let long = "x".repeat(64);
        let err = names.service(&long).unwrap_err();
        assert_eq!(err.kind(), LocalErrorKind::Registry);
        assert!(err.to_string().contains("63 bytes"), "{err}");
        assert!(names.service("a..b").is_err());
        assert!(names.service("").is_err());
        assert!(names.instance("greeter", &"y.".repeat(130)).is_err());
    }

    #[test]
    fn other_domains_are_not_ours() {
        let names = Names::new("micro");
        assert!(!names.in_domain(&Name::from_ascii("_http._tcp.local.").unwrap()));
        assert!(!names.in_domain(&Name::from_ascii("notmicro.").unwrap()));
        assert!(names.in_domain(&Name::from_ascii("greeter.micro.").unwrap()));
    }
}
