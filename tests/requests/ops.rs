//! A job pushed from a request is processed by a worker started in the test.
use std::time::Duration;

use orders_flow::workers::{canary::CanaryReport, worker_set};

use crate::support::{eventually, TestApp};

#[tokio::test]
async fn canary_needs_a_token() {
    let app = TestApp::boot().await;
    let server = app.server();
    let missing = server.post("/api/ops/canary").await;
    missing.assert_status_unauthorized();
    insta::assert_snapshot!("canary_missing_token", missing.text());
    let wrong = server
        .post("/api/ops/canary")
        .add_header("Authorization", "Bearer not-the-token")
        .await;
    wrong.assert_status_unauthorized();
    let report = CanaryReport::read(&app.services().queues()).await.unwrap();
    assert_eq!(report.runs, 0, "nothing may run without a token");
    let counts = app
        .services()
        .queue::<orders_flow::workers::canary::CanaryJob>()
        .counts()
        .await
        .unwrap();
    assert_eq!(counts.pending, 0, "nothing may be queued without a token");
}

#[tokio::test]
async fn canary_pushed_by_a_request_is_run_by_a_worker() {
    let app = TestApp::boot().await;
    let response = app
        .server()
        .post("/api/ops/canary")
        .add_header("Authorization", "Bearer test-token")
        .await;
    response.assert_status(axum::http::StatusCode::ACCEPTED);
    insta::assert_snapshot!(
        "canary_queued",
        response.text().replace(&app.prefix, "[prefix]")
    );

    let workers = worker_set(&app.jobs())
        .add::<orders_flow::workers::canary::CanaryJob>()
        .start()
        .await
        .unwrap();
    let services = app.services();
    let report = eventually("the canary to run", Duration::from_secs(20), || async {
        let report = CanaryReport::read(&services.queues()).await.unwrap();
        (report.runs == 1).then_some(report)
    })
    .await;
    assert_eq!(
        report.last_worker.as_deref(),
        Some(orders_flow::workers::canary::process_name().as_str())
    );
    assert!(report.last_latency_ms.is_some());
    workers.stop().await;

    let seen = app
        .server()
        .get("/api/ops/canary")
        .authorization_bearer("test-token")
        .await
        .json::<serde_json::Value>();
    assert_eq!(seen["runs"], 1);
}
