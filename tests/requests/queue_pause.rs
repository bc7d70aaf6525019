//! `POST /api/queues/{queue}/pause` and `/resume`, and the `queues_pause` /
//! `queues_resume` tasks: a paused queue's running workers fetch nothing, and
//! everything queued meanwhile runs once it is resumed.
use std::time::Duration;

use orders_flow::{
    models::_entities::orders,
    queue::{OrderWorkflowJob, WorkerProcess},
};
use sea_orm::EntityTrait;
use serde_json::{json, Value};

use crate::support::{
    eventually,
    imports::{run_task, stderr, stdout},
    jobs::start_worker,
    seed, TestApp,
};

const TOKENS: &str = "test-token,read-token:read";

async fn boot() -> TestApp {
    TestApp::boot_with(|s| {
        s["api"]["tokens"] = json!(TOKENS);
        s["payment"]["success_rate"] = json!(1.0);
    })
    .await
}

async fn status_of(app: &TestApp, id: i64) -> String {
    orders::Entity::find_by_id(id)
        .one(&app.ctx().db)
        .await
        .unwrap()
        .unwrap()
        .status
        .to_string()
}

/// Waits until the workflow worker has skipped `n` more fetches than `after`.
async fn skipped_past(app: &TestApp, workers: &WorkerProcess, after: u64, n: u64) -> u64 {
    let name = app
        .services()
        .queue::<OrderWorkflowJob>()
        .name()
        .to_string();
    eventually(
        "the worker to skip fetches while paused",
        Duration::from_secs(30),
        || async {
            let skipped = workers.skipped_fetches(&name).unwrap();
            (skipped >= after + n).then_some(skipped)
        },
    )
    .await
}

async fn workflow_queue(app: &TestApp) -> Value {
    let listed = app
        .server()
        .get("/api/queues")
        .authorization_bearer("read-token")
        .await;
    listed.assert_status_ok();
    let name = app
        .services()
        .queue::<OrderWorkflowJob>()
        .name()
        .to_string();
    listed.json::<Value>()["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == name)
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn a_paused_queue_fetches_nothing_and_runs_everything_once_resumed() {
    let app = boot().await;
    let db = &app.ctx().db;
    let item = seed::product(db, "SKU-P", 1_000, 100).await;
    let buyer = seed::customer(db, "CUST-P", None).await;
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(
            seed::order(db, &format!("ORD-P{n}"), &buyer, &[(&item, 1)])
                .await
                .id,
        );
    }
    let queue = app.services().queue::<OrderWorkflowJob>();
    let workers = start_worker::<OrderWorkflowJob>(&app).await;
    // The worker runs: a first order goes through before the pause.
    queue
        .push(&OrderWorkflowJob { order_id: ids[0] })
        .await
        .unwrap();
    eventually(
        "the first order to be paid",
        Duration::from_secs(30),
        || async { (status_of(&app, ids[0]).await == "paid").then_some(()) },
    )
    .await;

    let server = app.server();
    let paused = server
        .post("/api/queues/orders:workflow/pause")
        .authorization_bearer("test-token")
        .await;
    paused.assert_status_ok();
    assert_eq!(
        paused.json::<Value>(),
        json!({ "queue": "orders:workflow", "paused": true, "changed": true })
    );
    assert_eq!(workflow_queue(&app).await["paused"], true);
    // The running worker notices, then several of its fetches pass with jobs queued.
    let noticed = skipped_past(&app, &workers, 0, 1).await;
    let jobs: Vec<OrderWorkflowJob> = ids[1..]
        .iter()
        .map(|&order_id| OrderWorkflowJob { order_id })
        .collect();
    queue.push_bulk(&jobs).await.unwrap();
    skipped_past(&app, &workers, noticed, 5).await;
    let counts = queue.counts().await.unwrap();
    assert_eq!((counts.pending, counts.running), (3, 0), "{counts:?}");
    for &id in &ids[1..] {
        assert_eq!(status_of(&app, id).await, "pending");
    }
    let again = server
        .post("/api/queues/orders:workflow/pause")
        .authorization_bearer("test-token")
        .await;
    assert_eq!(again.json::<Value>()["changed"], false);

    let resumed = server
        .post("/api/queues/orders:workflow/resume")
        .authorization_bearer("test-token")
        .await;
    resumed.assert_status_ok();
    assert_eq!(
        resumed.json::<Value>(),
        json!({ "queue": "orders:workflow", "paused": false, "changed": true })
    );
    eventually(
        "every order to be paid",
        Duration::from_secs(30),
        || async {
            let mut all = true;
            for &id in &ids {
                all &= status_of(&app, id).await == "paid";
            }
            all.then_some(())
        },
    )
    .await;
    workers.stop().await;
    assert_eq!(workflow_queue(&app).await["paused"], false);
}

#[tokio::test]
async fn pause_refuses_bad_requests_in_the_json_error_shape() {
    let app = boot().await;
    let server = app.server();
    let unknown = server
        .post("/api/queues/nope/pause")
        .authorization_bearer("test-token")
        .await;
    unknown.assert_status_not_found();
    assert_eq!(unknown.json::<Value>()["error"], "queue_not_found");
    let read_only = server
        .post("/api/queues/refunds/pause")
        .authorization_bearer("read-token")
        .await;
    read_only.assert_status_forbidden();
    let anonymous = server.post("/api/queues/refunds/resume").await;
    anonymous.assert_status_unauthorized();
    let query = server
        .post("/api/queues/refunds/pause?all=true")
        .authorization_bearer("test-token")
        .await;
    query.assert_status_bad_request();
    assert!(query.json::<Value>()["message"].is_string());
    let queues = server
        .get("/api/queues")
        .authorization_bearer("test-token")
        .await
        .json::<Value>();
    assert!(
        queues["queues"]
            .as_array()
            .unwrap()
            .iter()
            .all(|q| q["paused"] == false),
        "refused requests paused nothing: {queues}"
    );
}

#[tokio::test]
async fn the_tasks_pause_and_resume_a_queue_with_either_argument_style() {
    let app = boot().await;
    let paused = run_task(&app, &["queues_pause", "queue=refunds"]).await;
    assert!(paused.status.success(), "{}", stderr(&paused));
    assert_eq!(stdout(&paused).trim(), "refunds: paused");
    let status = run_task(&app, &["queues_status"]).await;
    assert!(
        stdout(&status).contains(":refunds: paused"),
        "{}",
        stdout(&status)
    );
    let again = run_task(&app, &["queues_pause", "queue:refunds"]).await;
    assert_eq!(stdout(&again).trim(), "refunds: paused (it already was)");
    let resumed = run_task(&app, &["queues_resume", "queue:refunds"]).await;
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(stdout(&resumed).trim(), "refunds: resumed");
    let unknown = run_task(&app, &["queues_resume", "queue=nope"]).await;
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("unknown queue `nope`"),
        "{}",
        stderr(&unknown)
    );
    let missing = run_task(&app, &["queues_pause"]).await;
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("missing argument `queue`"));
}
