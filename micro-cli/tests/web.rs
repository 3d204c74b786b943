//! The dashboard (`micro web`, the real binary) in headless Chromium, driven by playwright-core
//! (`tests/browser/dashboard.cjs`), in front of real service processes found in a real etcd:
//! each page loads, the list follows services as they start and stop, the call form calls, a
//! stream streams, topics are published and watched, and markup from the registry stays text.
//!
//! With `UPDATE_SCREENSHOTS=1` the README's screenshots (`docs/screenshots/`) are written anew.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{LongRun, ServiceProcess, etcd_env};
use micro_runtime::registry::{EtcdRegistry, Node, Registry, ServiceRecord};
use tests::etcd::EtcdServer;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_browser() {
    let node_modules = workspace().join("target/test-node/node_modules");
    assert!(
        node_modules.join("playwright-core").exists(),
        "playwright-core is missing: run ./scripts/install-test-deps.sh"
    );
    let etcd = EtcdServer::start().await;
    let env = etcd_env(&etcd.client_address());
    let greeter = ServiceProcess::start(&env, &["greeter"]).await;
    let streamer = ServiceProcess::start(&env, &["streamer"]).await;
    // A service whose name is markup, registered when the page asks: it must show as text.
    let registry = EtcdRegistry::new(etcd.options()).unwrap();
    let hostile = ServiceRecord {
        name: "<img src=x onerror=alert(1)>".into(),
        version: "latest".into(),
        nodes: vec![Node {
            id: "hostile-1".into(),
            address: "127.0.0.1:1".into(),
            ..Node::default()
        }],
        ..ServiceRecord::default()
    };
    let (mut web, ready) = LongRun::ready(&env, &["web", "--address", "127.0.0.1:0"]).await;
    let url = ready
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {ready:?}"))
        .to_string();

    let shots = match std::env::var_os("UPDATE_SCREENSHOTS") {
        Some(_) => workspace().join("docs/screenshots"),
        None => std::env::temp_dir().join(format!("micro-dashboard-{}", std::process::id())),
    };
    std::fs::create_dir_all(&shots).unwrap();
    let mut browser = tokio::process::Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/dashboard.cjs"))
        .arg(&url)
        .arg(&shots)
        .env("NODE_PATH", &node_modules)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut stdin = browser.stdin.take().unwrap();
    let mut stdout = BufReader::new(browser.stdout.take().unwrap()).lines();
    let mut stderr = browser.stderr.take().unwrap();
    let mut said = Vec::new();
    let mut catalog = None;
    let driven = tokio::time::timeout(Duration::from_secs(180), async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            said.push(line.clone());
            match line.as_str() {
                "need: start catalog" => {
                    catalog = Some(ServiceProcess::start(&env, &["catalog"]).await);
                }
                "need: stop catalog" => catalog.take().expect("started").stop().await,
                "need: register a hostile name" => registry.register(&hostile, None).await.unwrap(),
                _ => continue,
            }
            stdin.write_all(b"ok\n").await.unwrap();
        }
    })
    .await;
    let status = browser.wait().await.unwrap();
    let mut errors = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut errors)
        .await
        .unwrap();
    assert!(
        driven.is_ok(),
        "the browser test hung; it said:\n{}",
        said.join("\n")
    );
    assert!(
        status.success() && said.last().map(String::as_str) == Some("done"),
        "the browser test failed; it said:\n{}\n{errors}",
        said.join("\n")
    );
    for shot in ["services.png", "service.png", "stream.png", "topics.png"] {
        let size = std::fs::metadata(shots.join(shot))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(size > 1000, "{shot} was not taken");
    }
    web.signal("INT");
    assert_eq!(web.exit_code().await, 0);
    greeter.stop().await;
    streamer.stop().await;
}
