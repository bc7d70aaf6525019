//! `GET /metrics`: the Prometheus exposition of queues, workers and the KPI outbox.
use orders_flow::queue::NotificationJob;

use crate::support::TestApp;

#[tokio::test]
async fn queues_by_state_workers_and_the_outbox_are_exposed() {
    let app = TestApp::boot().await;
    let services = app.services();
    services
        .queue::<NotificationJob>()
        .push_bulk(&[NotificationJob::one(1), NotificationJob::one(2)])
        .await
        .unwrap();
    let response = app
        .server()
        .get("/metrics")
        .authorization_bearer("test-token")
        .await;
    response.assert_status_ok();
    assert_eq!(
        response.header("content-type"),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let body = response.text();
    assert!(
        body.contains("orders_flow_queue_jobs{queue=\"notifications\",state=\"pending\"} 2\n"),
        "{body}"
    );
    assert!(
        body.contains("orders_flow_queue_unattended{queue=\"notifications\"} 1\n"),
        "two jobs wait and nobody works the queue:\n{body}"
    );
    // The version changes with every build: the rest is this fresh instance's.
    let version = format!(
        "version=\"{}\"",
        <orders_flow::app::App as loco_rs::app::Hooks>::app_version()
    );
    // The queue part; the job, HTTP and order families are checked in job_stats.rs.
    let queue_part = body
        .split("# HELP orders_flow_jobs_total")
        .next()
        .unwrap_or_default();
    insta::assert_snapshot!(queue_part.replace(&version, "version=\"[version]\""));
}
