//! The etcd registry against an etcd with authentication enabled: it authenticates with the user
//! name and password, sends the token with every call, authenticates again when the token lapses,
//! and reports a wrong password or missing credentials as registry errors.

use std::collections::HashMap;
use std::time::Duration;

use micro_runtime::LocalErrorKind;
use micro_runtime::registry::{
    Action, EtcdOptions, EtcdRegistry, Node, Registry, ServiceRecord, Watcher,
};
use tests::etcd::EtcdServer;
use tokio::time::{Instant, timeout};

const WAIT: Duration = Duration::from_secs(10);
const PASSWORD: &str = "s3cret";
// etcd drops a simple token after this many seconds unused; short, so the test sees one lapse.
const TOKEN_TTL: &str = "1";

fn greeter(id: &str) -> ServiceRecord {
    ServiceRecord {
        name: "greeter".into(),
        version: "latest".into(),
        nodes: vec![Node {
            id: id.into(),
            address: "127.0.0.1:9001".into(),
            metadata: HashMap::from([("registry".into(), "etcd".into())]),
        }],
        ..ServiceRecord::default()
    }
}

async fn next_action(watcher: &mut Watcher) -> Action {
    timeout(WAIT, watcher.next())
        .await
        .expect("an event in time")
        .expect("the watcher is open")
        .action
}

/// etcd with a root user (password [`PASSWORD`]) and authentication enabled.
async fn etcd_with_auth() -> EtcdServer {
    let etcd = EtcdServer::start_with(&["--auth-token-ttl", TOKEN_TTL]).await;
    let mut raw = etcd_client::Client::connect([etcd.client_address()], None)
        .await
        .expect("raw etcd client");
    raw.user_add("root", PASSWORD, None).await.unwrap();
    raw.user_grant_role("root", "root").await.unwrap();
    raw.auth_enable().await.unwrap();
    etcd
}

fn options(etcd: &EtcdServer, user: Option<&str>, password: Option<&str>) -> EtcdOptions {
    etcd.options()
        .username(user.map(Into::into))
        .password(password.map(Into::into))
        .dial_timeout(Duration::from_secs(2))
}

#[tokio::test]
async fn a_registry_authenticates_and_renews_its_token() {
    let etcd = etcd_with_auth().await;
    let registry = EtcdRegistry::new(options(&etcd, Some("root"), Some(PASSWORD))).unwrap();
    let mut watcher = registry.watch(Some("greeter")).await.unwrap();
    registry
        .register(&greeter("greeter-1"), Some(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(next_action(&mut watcher).await, Action::Create);

    // Idle past the token's lifetime (etcd checks once a second): every call below first meets an
    // expired token, then succeeds with a new one.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let found = registry.get_service("greeter").await.unwrap();
    assert_eq!(found[0].nodes[0].id, "greeter-1");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut again = registry.watch(None).await.unwrap();
    registry
        .register(&greeter("greeter-2"), Some(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(next_action(&mut again).await, Action::Create);
    registry.deregister(&greeter("greeter-1")).await.unwrap();
    assert_eq!(next_action(&mut again).await, Action::Delete);
}

#[tokio::test]
async fn wrong_or_missing_credentials_are_registry_errors() {
    let etcd = etcd_with_auth().await;
    let address = etcd.client_address();

    let wrong = EtcdRegistry::new(options(&etcd, Some("root"), Some("wrong"))).unwrap();
    let started = Instant::now();
    let err = wrong.list_services().await.unwrap_err();
    assert_eq!(err.kind(), LocalErrorKind::Registry);
    let text = err.to_string();
    assert!(
        text.contains(&address) && text.contains("refused"),
        "{text}"
    );
    // A refusal is final: no retrying until the dial timeout.
    assert!(started.elapsed() < Duration::from_secs(1), "{text}");

    let anonymous = EtcdRegistry::new(options(&etcd, None, None)).unwrap();
    let err = anonymous
        .register(&greeter("greeter-1"), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), LocalErrorKind::Registry, "{err}");
}
