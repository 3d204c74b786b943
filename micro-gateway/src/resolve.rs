//! Which service and endpoint an HTTP path names: go-micro's classic gateway rules (micro v1–v3,
//! the `micro` resolver with the `rpc` handler), plus the forms newer go-micro accepts.
//!
//! In order, the first that applies:
//! 1. a `Micro-Endpoint` header names the endpoint; the path's segments, joined by `.`, the
//!    service (`/greeter` + `Greeter.Hello`);
//! 2. a last segment with a dot is the endpoint as it is (`/greeter/Greeter.Hello`, go-micro
//!    v6's `micro api`), the segments before it the service;
//! 3. the classic rules: `/foo` → `foo`, `Foo.Call` (`/go.micro.foo` → `Foo.Call`); `/foo/bar`
//!    → `foo`, `Foo.Bar`;
//!    `/v1/foo/bar` → `v1.foo`, `Foo.Bar`; `/a/b/c/d` → `a.b`, `C.D`. Endpoint segments are
//!    CamelCased, `-` splitting words (`get-user` → `GetUser`); capitals already there stay, so
//!    `/greeter/Greeter/SayHello` → `Greeter.SayHello`.
//!
//! With a namespace (go-micro's `go.micro.api` form), the service is `namespace.name` (a name
//! already in the namespace is kept). A namespace chooses names; it does not limit what can be
//! called: `/rpc`, declared routes and full names reach any service.

use std::fmt;

/// A service and endpoint resolved from a request, and the rule that chose them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The service name, namespace included.
    pub service: String,
    /// The endpoint, `Type.Method`.
    pub endpoint: String,
    /// The rule that resolved it, for error messages: what was tried.
    pub rule: Rule,
}

/// The rule a [`Route`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// The `Micro-Endpoint` header.
    Header,
    /// A last path segment holding `Type.Method`.
    Dotted,
    /// go-micro's classic path rules.
    Path,
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = match self.rule {
            Rule::Header => "with the Micro-Endpoint header",
            Rule::Dotted => "by its last segment",
            Rule::Path => "by go-micro's path rules",
        };
        write!(
            f,
            "service {}, endpoint {} ({how})",
            self.service, self.endpoint
        )
    }
}

/// Resolves `path` (and a `Micro-Endpoint` header) to a route; `None` for a path with no
/// segments (`/`).
pub fn resolve(
    path: &str,
    header_endpoint: Option<&str>,
    namespace: Option<&str>,
) -> Option<Route> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() || parts.contains(&"..") {
        return None;
    }
    let named = |service: String, endpoint: String, rule: Rule| Route {
        service: match namespace {
            // A name already in the namespace (as the dashboard sends it) stays as it is.
            Some(ns) if !ns.is_empty() && !service.starts_with(&format!("{ns}.")) => {
                format!("{ns}.{service}")
            }
            _ => service,
        },
        endpoint,
        rule,
    };
    if let Some(endpoint) = header_endpoint.filter(|e| !e.is_empty()) {
        return Some(named(parts.join("."), endpoint.to_string(), Rule::Header));
    }
    let last = parts[parts.len() - 1];
    if parts.len() >= 2 && last.contains('.') {
        let service = parts[..parts.len() - 1].join(".");
        return Some(named(service, last.to_string(), Rule::Dotted));
    }
    let (service, method) = match parts.len() {
        // A dotted name's type is its last component: `go.micro.greeter` → `Greeter.Call`.
        1 => (
            parts[0].to_string(),
            vec![last.rsplit('.').next().unwrap_or(last), "call"],
        ),
        2 => (parts[0].to_string(), parts.clone()),
        3 if is_version(parts[0]) => (parts[..2].join("."), parts[1..].to_vec()),
        n => (parts[..n - 2].join("."), parts[n - 2..].to_vec()),
    };
    let endpoint = method
        .iter()
        .map(|p| camel(p))
        .collect::<Vec<_>>()
        .join(".");
    Some(named(service, endpoint, Rule::Path))
}

/// `v1`, `v2`, ...: go-micro's `^v[0-9]+$`.
fn is_version(part: &str) -> bool {
    part.len() > 1 && part.starts_with('v') && part[1..].bytes().all(|b| b.is_ascii_digit())
}

/// `get-user` → `GetUser`; `sayHello` → `SayHello`.
fn camel(part: &str) -> String {
    part.split('-')
        .filter(|w| !w.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            first.into_iter().chain(chars).collect::<String>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(path: &str) -> (String, String) {
        let route = resolve(path, None, None).expect("resolves");
        (route.service, route.endpoint)
    }

    fn pair(service: &str, endpoint: &str) -> (String, String) {
        (service.to_string(), endpoint.to_string())
    }

    #[test]
    fn go_micro_classic_rules() {
        assert_eq!(route("/foo"), pair("foo", "Foo.Call"));
        assert_eq!(route("/foo/bar"), pair("foo", "Foo.Bar"));
        assert_eq!(route("/v1/foo/bar"), pair("v1.foo", "Foo.Bar"));
        assert_eq!(route("/a/b/c/d"), pair("a.b", "C.D"));
        assert_eq!(route("/a/b/c"), pair("a", "B.C"));
        assert_eq!(route("/greeter/say/hello"), pair("greeter", "Say.Hello"));
        assert_eq!(route("/users/get-user"), pair("users", "Users.GetUser"));
        assert_eq!(
            route("/greeter/Greeter/SayHello"),
            pair("greeter", "Greeter.SayHello")
        );
        assert_eq!(route("//foo//bar/"), pair("foo", "Foo.Bar"));
        assert_eq!(route("/vx/foo/bar"), pair("vx", "Foo.Bar"));
    }

    #[test]
    fn a_dotted_last_segment_is_the_endpoint() {
        assert_eq!(
            route("/greeter/Greeter.Hello"),
            pair("greeter", "Greeter.Hello")
        );
        assert_eq!(
            route("/go/micro/srv/greeter/Say.Hello"),
            pair("go.micro.srv.greeter", "Say.Hello")
        );
        // One segment with a dot is a dotted service name.
        assert_eq!(
            route("/go.micro.greeter"),
            pair("go.micro.greeter", "Greeter.Call")
        );
    }

    #[test]
    fn the_header_names_the_endpoint() {
        let route = resolve("/go.micro.srv.greeter", Some("Say.Hello"), None).unwrap();
        assert_eq!(
            (route.service.as_str(), route.endpoint.as_str()),
            ("go.micro.srv.greeter", "Say.Hello")
        );
        assert_eq!(route.rule, Rule::Header);
    }

    #[test]
    fn a_namespace_prefixes_the_service() {
        let route = resolve("/greeter/say/hello", None, Some("go.micro.api")).unwrap();
        assert_eq!(route.service, "go.micro.api.greeter");
        let full = resolve(
            "/go.micro.api.greeter/Greeter.Hello",
            None,
            Some("go.micro.api"),
        );
        assert_eq!(full.unwrap().service, "go.micro.api.greeter");
        assert_eq!(route.endpoint, "Say.Hello");
        assert!(route.to_string().contains("go.micro.api.greeter"));
    }

    #[test]
    fn no_route_for_the_root_or_a_parent() {
        assert_eq!(resolve("/", None, None), None);
        assert_eq!(resolve("/a/../b", None, None), None);
    }
}
