//! Building services: the configuration rule and bad values.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::error::LocalErrorKind;

#[test]
fn parses_go_durations() {
    assert_eq!(duration("X", "30s").unwrap(), Duration::from_secs(30));
    assert_eq!(duration("X", "250ms").unwrap(), Duration::from_millis(250));
    assert_eq!(duration("X", "2m").unwrap(), Duration::from_secs(120));
    assert_eq!(duration("X", "7").unwrap(), Duration::from_secs(7));
    assert!(
        duration("X", "soon")
            .unwrap_err()
            .to_string()
            .contains("soon")
    );
}

#[test]
fn unknown_registry_is_a_clear_error() {
    let err = Service::builder("x")
        .build_with_env(|k| (k == "MICRO_REGISTRY").then(|| "zookeeper".to_string()))
        .unwrap_err();
    assert_eq!(err.kind(), LocalErrorKind::Config);
    assert!(err.to_string().contains("zookeeper"), "{err}");
}

/// What a service built under `policy` ends up with, when code and environment disagree.
fn built(policy: Environment, code_sets: bool) -> (String, &'static str, Duration) {
    let env = |key: &str| {
        let value = match key {
            "MICRO_SERVER_NAME" => "from-env",
            "MICRO_REGISTRY" => "memory",
            "MICRO_CLIENT_REQUEST_TIMEOUT" => "7s",
            _ => return None,
        };
        Some(value.to_string())
    };
    let mut builder =
        Service::builder(if code_sets { "from-code" } else { "" }).environment(policy);
    if code_sets {
        builder = builder
            .registry(Arc::new(TaggedRegistry))
            .request_timeout(Duration::from_secs(3));
    }
    let service = builder.build_with_env(env).unwrap();
    let client = service.client();
    let timeout = client.options().request_timeout;
    let registry = client.registry().name();
    (service.server().name().to_string(), registry, timeout)
}

/// A registry that says it came from code.
#[derive(Debug)]
struct TaggedRegistry;

impl Registry for TaggedRegistry {
    fn name(&self) -> &'static str {
        "code"
    }
    fn register<'a>(
        &'a self,
        _: &'a crate::registry::ServiceRecord,
        _: Option<Duration>,
    ) -> crate::registry::BoxFuture<'a, Result<(), LocalError>> {
        Box::pin(async { Ok(()) })
    }
    fn deregister<'a>(
        &'a self,
        _: &'a crate::registry::ServiceRecord,
    ) -> crate::registry::BoxFuture<'a, Result<(), LocalError>> {
        Box::pin(async { Ok(()) })
    }
    fn get_service<'a>(
        &'a self,
        _: &'a str,
    ) -> crate::registry::BoxFuture<'a, Result<Vec<crate::registry::ServiceRecord>, LocalError>>
    {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn list_services(
        &self,
    ) -> crate::registry::BoxFuture<'_, Result<Vec<crate::registry::ServiceRecord>, LocalError>>
    {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn watch<'a>(
        &'a self,
        _: Option<&'a str>,
    ) -> crate::registry::BoxFuture<'a, Result<crate::registry::Watcher, LocalError>> {
        Box::pin(async { Err(LocalError::new(LocalErrorKind::Registry, "no watch")) })
    }
}

#[test]
fn code_then_environment_then_defaults() {
    let secs = Duration::from_secs;
    // Code wins; the environment fills gaps.
    assert_eq!(
        built(Environment::FillsGaps, true),
        ("from-code".into(), "code", secs(3))
    );
    assert_eq!(
        built(Environment::FillsGaps, false),
        ("from-env".into(), "memory", secs(7))
    );
    // go-micro's rule: the environment wins.
    assert_eq!(
        built(Environment::Overrides, true),
        ("from-env".into(), "memory", secs(7))
    );
}

#[test]
fn an_ignored_environment_leaves_code_and_defaults() {
    assert_eq!(
        built(Environment::Ignored, true),
        ("from-code".into(), "code", Duration::from_secs(3))
    );
    // No name in code and none read: refused, rather than a nameless service.
    let err = Service::builder("")
        .environment(Environment::Ignored)
        .build_with_env(|_| Some("x".into()))
        .unwrap_err();
    assert!(err.to_string().contains("name"), "{err}");
}

#[test]
fn a_bad_variable_is_reported_even_when_code_set_the_value() {
    let err = Service::builder("x")
        .register_ttl(Duration::from_secs(5))
        .build_with_env(|k| (k == "MICRO_REGISTER_TTL").then(|| "ten".to_string()))
        .unwrap_err();
    assert!(err.to_string().contains("MICRO_REGISTER_TTL"), "{err}");
}

#[test]
fn bad_ttl_is_a_clear_error() {
    let err = Service::builder("x")
        .build_with_env(|k| (k == "MICRO_REGISTER_TTL").then(|| "ten".to_string()))
        .unwrap_err();
    assert!(err.to_string().contains("MICRO_REGISTER_TTL"), "{err}");
}

#[test]
fn an_unknown_transport_is_a_clear_error() {
    let err = Service::builder("x")
        .build_with_env(|k| (k == "MICRO_TRANSPORT").then(|| "grpc".to_string()))
        .unwrap_err();
    assert_eq!(err.kind(), LocalErrorKind::Config);
    let text = err.to_string();
    assert!(
        text.contains("grpc") && text.contains("ServiceBuilder::transport"),
        "{err}"
    );
    let env = |k: &str| match k {
        "MICRO_TRANSPORT" => Some("http".to_string()),
        "MICRO_REGISTRY" => Some("memory".to_string()),
        _ => None,
    };
    assert!(Service::builder("x").build_with_env(env).is_ok());
}
