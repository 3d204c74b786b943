//! The real `micro` binary finding a real service over mDNS, go-micro's default registry, inside
//! a private network namespace whose only interface is `lo` (nothing multicasts outside it).

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use micro_runtime::registry::{MdnsOptions, MdnsRegistry, Registry};
use micro_runtime::server::Server;
use tests::handlers::Greeter;
use tests::netns;
use tests::proto::greeter::GreeterServer;

/// Runs `micro ARGS` with the mDNS registry, off the async threads: (exit code, stdout, stderr).
async fn micro(args: &[&str]) -> (i32, String, String) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_micro"))
            .args(&args)
            .env("MICRO_REGISTRY", "mdns")
            .env_remove("MICRO_REGISTRY_ADDRESS")
            .output()
            .expect("the micro binary runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

#[test]
fn services_describe_call_and_health_over_mdns() {
    netns::isolated("services_describe_call_and_health_over_mdns", || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(async {
                let registry: Arc<dyn Registry> =
                    Arc::new(MdnsRegistry::new(MdnsOptions::default()));
                let server = Server::new("greeter")
                    .registry(registry)
                    .handle(GreeterServer::new(Greeter::default()))
                    .start()
                    .await
                    .unwrap();
                // The first answers may take a query round: ask until the node is seen.
                let listed = tokio::time::timeout(Duration::from_secs(30), async {
                    loop {
                        let run = micro(&["services"]).await;
                        if run.1.contains("greeter") {
                            break run;
                        }
                    }
                })
                .await
                .expect("micro services finds the greeter over mDNS");
                assert_eq!(
                    listed.1, "NAME     VERSIONS  NODES\ngreeter  latest    1\n",
                    "{listed:?}"
                );
                let described = micro(&["describe", "greeter"]).await;
                assert!(
                    described.1.contains(&server.node().address),
                    "{described:?}"
                );
                assert!(
                    described
                        .1
                        .contains("Request: HelloRequest {\n    name string\n}"),
                    "{described:?}"
                );
                let called =
                    micro(&["call", "greeter", "Greeter.Hello", r#"{"name": "mDNS"}"#]).await;
                assert_eq!(called.0, 0, "{called:?}");
                assert_eq!(called.1, "{\n  \"greeting\": \"Hello mDNS\"\n}\n");
                let health = micro(&["health", "greeter"]).await;
                assert_eq!(health.0, 0, "{health:?}");
                server.stop().await.unwrap();
            });
    });
}
