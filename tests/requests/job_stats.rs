//! Job statistics after real work: `GET /api/queues/stats` (the console's
//! per-minute series) and the `/metrics` page, which `promtool check metrics`
//! must accept as it is.
use std::{io::Write, process::Stdio, time::Duration};

use orders_flow::queue::OrderWorkflowJob;
use serde_json::{json, Value};

use crate::support::{eventually, jobs::start_worker, seed, TestApp};

/// Boots, pays `n` orders through a real workflow worker and stops it (its
/// last statistics are flushed to Redis when it stops).
async fn after_paid_orders(n: usize) -> TestApp {
    let app = TestApp::boot_with(|s| s["payment"]["success_rate"] = json!(1.0)).await;
    let db = &app.ctx().db;
    let item = seed::product(db, "SKU-S", 1_000, 100).await;
    let buyer = seed::customer(db, "CUST-S", None).await;
    let mut jobs = Vec::new();
    for i in 0..n {
        let order = seed::order(db, &format!("ORD-S{i}"), &buyer, &[(&item, 1)]).await;
        jobs.push(OrderWorkflowJob { order_id: order.id });
    }
    let queue = app.services().queue::<OrderWorkflowJob>();
    let workers = start_worker::<OrderWorkflowJob>(&app).await;
    queue.push_bulk(&jobs).await.unwrap();
    eventually("every job to finish", Duration::from_secs(30), || async {
        let c = queue.counts().await.unwrap();
        (c.done == n as u64 && c.pending + c.running == 0).then_some(())
    })
    .await;
    workers.stop().await;
    app
}

#[tokio::test]
async fn the_last_hour_of_each_queue_counts_the_jobs_done() {
    let app = after_paid_orders(3).await;
    let response = app
        .server()
        .get("/api/queues/stats")
        .authorization_bearer("test-token")
        .await;
    response.assert_status_ok();
    let body: Value = response.json();
    assert_eq!(body["minutes"], 60);
    let queues = body["queues"].as_array().unwrap();
    let names: Vec<&str> = queues
        .iter()
        .map(|q| q["queue"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "orders:import",
            "orders:workflow",
            "notifications",
            "refunds"
        ]
    );
    let workflow = &queues[1];
    let series = workflow["series"].as_array().unwrap();
    assert_eq!(series.len(), 60);
    let done: u64 = series.iter().map(|p| p["done"].as_u64().unwrap()).sum();
    assert_eq!(done, 3, "{workflow}");
    assert_eq!(workflow["done_last_hour"], 3);
    assert_eq!(workflow["failed_last_hour"], 0);
    let minute_starts: Vec<u64> = series.iter().map(|p| p["at"].as_u64().unwrap()).collect();
    assert!(
        minute_starts.windows(2).all(|w| w[1] == w[0] + 60),
        "one point a minute, oldest first"
    );
    assert!(
        workflow["runtime_ms"]["p50"].as_u64().is_some(),
        "{workflow}"
    );
    assert!(workflow["wait_ms"]["p95"].as_u64().is_some(), "{workflow}");
    assert_eq!(workflow["oldest_pending_age_secs"], Value::Null);
    assert_eq!(queues[0]["done_last_hour"], 0);
    assert_eq!(queues[0]["runtime_ms"]["p50"], Value::Null);

    // Pending work shows its age.
    app.services()
        .queue::<OrderWorkflowJob>()
        .push(&OrderWorkflowJob { order_id: 999 })
        .await
        .unwrap();
    let again: Value = app
        .server()
        .get("/api/queues/stats")
        .authorization_bearer("test-token")
        .await
        .json();
    assert!(again["queues"][1]["oldest_pending_age_secs"]
        .as_u64()
        .is_some());

    let bad = app
        .server()
        .get("/api/queues/stats?minutes=5")
        .authorization_bearer("test-token")
        .await;
    bad.assert_status_bad_request();
    app.server()
        .get("/api/queues/stats")
        .await
        .assert_status_unauthorized();
}

/// Runs `promtool check metrics` on `page`; its output and whether it passed.
fn promtool(page: &str) -> (bool, String) {
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package `prometheus`; scripts/services.sh installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn metrics_count_jobs_requests_and_orders_and_promtool_accepts_them() {
    let app = after_paid_orders(2).await;
    let server = app.server();
    for path in [
        "/api/orders/ORD-S0",
        "/api/orders/ORD-S1",
        "/api/orders/NOPE",
    ] {
        server.get(path).authorization_bearer("test-token").await;
    }
    server.get("/no/such/route").await;
    let page = server
        .get("/metrics")
        .authorization_bearer("test-token")
        .await
        .text();
    for line in [
        "orders_flow_jobs_total{queue=\"orders:workflow\",outcome=\"done\"} 2\n",
        "orders_flow_jobs_total{queue=\"orders:workflow\",outcome=\"dead\"} 0\n",
        "orders_flow_job_runtime_seconds_count{queue=\"orders:workflow\"} 2\n",
        "orders_flow_job_runtime_seconds_bucket{queue=\"orders:workflow\",le=\"+Inf\"} 2\n",
        "orders_flow_job_wait_seconds_count{queue=\"orders:workflow\"} 2\n",
        "orders_flow_http_requests_total{method=\"GET\",route=\"/api/orders/{id}\",status=\"200\"} 2\n",
        "orders_flow_http_requests_total{method=\"GET\",route=\"/api/orders/{id}\",status=\"404\"} 1\n",
        "orders_flow_http_request_duration_seconds_count{method=\"GET\",route=\"/api/orders/{id}\"} 3\n",
        "orders_flow_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1\n",
        "orders_flow_orders{status=\"paid\"} 2\n",
    ] {
        assert!(page.contains(line), "missing {line:?} in:\n{page}");
    }
    assert!(!page.contains("ORD-S0"), "routes are templates, not paths");
    let (passed, complaints) = promtool(&page);
    assert!(
        passed && complaints.trim().is_empty(),
        "promtool: {complaints}\n{page}"
    );
    // The linter is not a rubber stamp: a counter without `_total` is refused.
    let (passed, _) = promtool("# HELP bad a counter\n# TYPE bad counter\nbad 1\n");
    assert!(!passed);
}
