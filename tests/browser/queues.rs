//! The dashboard's last hour and its Pause / Resume buttons in a real browser:
//! the jobs-per-minute figures match `GET /api/queues/stats` after real jobs
//! ran, and a queue paused from the page is paused for the API and its workers.
use std::time::Duration;

use orders_flow::queue::OrderWorkflowJob;
use serde_json::{json, Value};

use crate::support::{
    browser::{Browser, LiveApp},
    eventually,
    jobs::start_worker,
    seed, TestApp,
};

const ROW: &str = "tr[data-stats-row='orders:workflow']";

/// `GET /api/queues/stats`'s entry for the workflow queue.
async fn workflow_stats(app: &TestApp) -> Value {
    let body: Value = app
        .server()
        .get("/api/queues/stats")
        .authorization_bearer("test-token")
        .await
        .json();
    body["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "orders:workflow")
        .cloned()
        .unwrap()
}

/// `paused` of the workflow queue, as `GET /api/queues` says.
async fn api_paused(app: &TestApp) -> bool {
    let body: Value = app
        .server()
        .get("/api/queues")
        .authorization_bearer("test-token")
        .await
        .json();
    let name = app
        .services()
        .queue::<OrderWorkflowJob>()
        .name()
        .to_string();
    body["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == name)
        .unwrap()["paused"]
        .as_bool()
        .unwrap()
}

/// Pushes workflow jobs for `n` new paid orders named from `from`.
async fn push_orders(app: &TestApp, from: usize, n: usize) {
    let db = &app.ctx().db;
    let item = seed::product(db, &format!("SKU-Q{from}"), 1_000, 100).await;
    let buyer = seed::customer(db, &format!("CUST-Q{from}"), None).await;
    let mut jobs = Vec::new();
    for i in from..from + n {
        let order = seed::order(db, &format!("ORD-Q{i}"), &buyer, &[(&item, 1)]).await;
        jobs.push(OrderWorkflowJob { order_id: order.id });
    }
    app.services()
        .queue::<OrderWorkflowJob>()
        .push_bulk(&jobs)
        .await
        .unwrap();
}

/// Waits until the API counts `done` workflow jobs in the last hour (the
/// workers flush their tallies every second); returns its entry.
async fn stats_once_done(app: &TestApp, done: u64) -> Value {
    eventually(
        "the statistics to count the jobs",
        Duration::from_secs(30),
        || async {
            let stats = workflow_stats(app).await;
            (stats["done_last_hour"] == done).then_some(stats)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_reads_jobs_per_minute_and_pauses_and_resumes_a_queue() {
    let app = TestApp::boot_with(|s| s["payment"]["success_rate"] = json!(1.0)).await;
    let workers = start_worker::<OrderWorkflowJob>(&app).await;
    push_orders(&app, 0, 3).await;
    let stats = stats_once_done(&app, 3).await;

    let live = LiveApp::serve(&app).await;
    let browser = Browser::start().await;
    browser.log_in(&live, "test-token").await;
    browser.find("form.session").await;
    let done = format!("{ROW} td[data-stat='done-last-hour']");
    let peak = format!("{ROW} td[data-stat='peak-per-minute']");
    let state = format!("{ROW} span[data-stat='state']");
    assert_eq!(
        browser.text(&done).await.as_deref(),
        Some(stats["done_last_hour"].to_string().as_str())
    );
    assert_eq!(
        browser
            .text(&format!("{ROW} td[data-stat='failed-last-hour']"))
            .await
            .as_deref(),
        Some(stats["failed_last_hour"].to_string().as_str())
    );
    let api_peak = stats["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["done"].as_u64().unwrap())
        .max()
        .unwrap();
    assert_eq!(browser.text(&peak).await, Some(api_peak.to_string()));
    // The series is drawn: one point a minute for the hour.
    let points = browser
        .find(&format!("{ROW} svg polyline.done"))
        .await
        .attr("points")
        .await
        .expect("points")
        .expect("a points attribute");
    assert_eq!(points.split(' ').count(), 60, "{points}");
    assert_eq!(browser.text(&state).await.as_deref(), Some("running"));

    // Pause from the page: the form posts, the page comes back paused.
    browser
        .find("button[data-queue-state='orders:workflow']")
        .await
        .click()
        .await
        .expect("click pause");
    browser
        .wait_for_text(&state, "the queue marked paused", |t| t == "paused")
        .await;
    assert_eq!(browser.path().await, "/dashboard");
    assert!(api_paused(&app).await, "the API says paused");
    assert_eq!(
        browser
            .text("button[data-queue-state='orders:workflow']")
            .await
            .as_deref(),
        Some("Resume")
    );

    // Jobs pushed while paused run once resumed; the page's figure follows the API's.
    push_orders(&app, 3, 2).await;
    browser
        .find("button[data-queue-state='orders:workflow']")
        .await
        .click()
        .await
        .expect("click resume");
    browser
        .wait_for_text(&state, "the queue marked running", |t| t == "running")
        .await;
    assert!(!api_paused(&app).await, "the API says running");
    let stats = stats_once_done(&app, 5).await;
    // The page refreshes itself: no reload needed to see the new figure.
    let expected = stats["done_last_hour"].to_string();
    browser
        .wait_for_text(&done, "the page to count 5 jobs", |t| t == expected)
        .await;

    browser.close().await;
    workers.stop().await;
}
