//! A function serves one call and exits: the real `function` binary, found in a real etcd by
//! the real `greeter-client`.

mod common;

use common::{GreeterServer, greeter_client, run};

#[test]
fn a_function_answers_one_call_then_deregisters_and_exits() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let etcd = runtime.block_on(tests::etcd::EtcdServer::start());
    let address = etcd.client_address();
    let env = [
        ("MICRO_REGISTRY", "etcd"),
        ("MICRO_REGISTRY_ADDRESS", address.as_str()),
    ];
    let function = GreeterServer::start_binary(env!("CARGO_BIN_EXE_function"), &env);
    function.started();
    let greeting = run(&mut greeter_client(&env));
    assert_eq!(greeting.trim(), "Hello John");
    // Nobody signals it: the answered call is what stops it.
    function.wait_for("server stopped");
    assert!(function.wait_exit(), "the function exits with status 0");
    let output = greeter_client(&env).output().unwrap();
    assert!(!output.status.success(), "deregistered: nothing to call");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not found"), "{stderr}");
}
