//! The documented `key=value` form, Loco's `key:value` form, and usage errors.
use std::process::{Command, Output};

use crate::support::TestApp;

fn task(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orders-flow-cli"))
        .arg("task")
        .args(args)
        .env("LOCO_ENV", "test")
        .env("REDIS_PREFIX", &app.prefix)
        .env("DATABASE_URL", &app.database_url)
        .output()
        .expect("run task")
}

#[tokio::test]
async fn key_equals_value_and_key_colon_value_both_work() {
    let app = TestApp::boot().await;
    for form in ["queue=refunds", "queue:refunds"] {
        let out = task(&app, &["queues_status", form, "format=json"]);
        assert!(
            out.status.success(),
            "{form}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let counts: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json output");
        assert_eq!(counts.as_array().map(Vec::len), Some(1), "{form}");
        assert_eq!(counts[0]["queue"], format!("{}:refunds", app.prefix));
    }
}

#[tokio::test]
async fn an_unknown_argument_fails_with_the_usage() {
    let app = TestApp::boot().await;
    let out = task(&app, &["queues_status", "colour=blue"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown argument `colour`"), "{stderr}");
    assert!(
        stderr.contains("usage: cargo loco task queues_status"),
        "{stderr}"
    );
    let out = task(&app, &["queues_status", "format=xml"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown format `xml`"));
}
