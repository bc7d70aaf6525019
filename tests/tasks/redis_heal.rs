//! Redis is disposable (issue 18 §1-3, §5): a private `redis-server` flushed in
//! the middle of a run, then SIGKILLed and started again empty. With no
//! command typed, the worker processes notice, one of them heals each loss,
//! and the run ends as if nothing happened: every order terminal, one
//! notification each, stock conserved, `kpi_verify` equal, no dead job. The
//! web side answers no 500 throughout and 503 while Redis is down.
//!
//! `stuck_after_secs` is 300 in the test configuration: a run that settles
//! within the limits below was healed, not swept.
use std::{
    process::Output,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use axum::http::StatusCode;
use orders_flow::{
    models::{
        _entities::{order_notifications, orders, payments},
        kpi,
        pipeline::PipelineStatus,
    },
    queue::{NotificationJob, OrderWorkflowJob},
    workers::heal,
};
use sea_orm::{EntityTrait, PaginatorTrait, QuerySelect};
use serde_json::json;

use super::import_durability::{finished, order_file, spawn_import_on, ORDERS};
use crate::support::{
    eventually,
    imports::{imports, stderr, success, Scratch},
    servers::{PrivateRedis, WorkerProcess},
    TestApp,
};

/// Read routes a client and the dashboard call all the time.
const POLLED: [&str; 4] = [
    "/api/metrics",
    "/api/leaderboard",
    "/api/queues",
    "/dashboard/kpis",
];

/// Calls the [`POLLED`] routes in a loop until stopped; returns every status
/// that was neither 200 nor 503, with its route and body. A local task (the
/// test client's futures are not `Send`): the test runs in a `LocalSet`.
fn poll_api(app: &TestApp, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Vec<String>> {
    let server = app.http_server();
    tokio::task::spawn_local(async move {
        let mut wrong = Vec::new();
        let mut calls = 0u64;
        while !stop.load(Ordering::Relaxed) {
            for path in POLLED {
                let response = server.get(path).authorization_bearer("test-token").await;
                calls += 1;
                let status = response.status_code();
                if status != StatusCode::OK && status != StatusCode::SERVICE_UNAVAILABLE {
                    wrong.push(format!("{path}: {status} {}", response.text()));
                }
            }
            // Pace, not a wait for work: the loop only samples the API.
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(calls > 20, "the API was sampled only {calls} times");
        wrong
    })
}

/// Whether the generation of `redis` is healed (and by how many heals).
fn healed(redis: &PrivateRedis, prefix: &str) -> Option<u64> {
    let (generation, healed, heals): (Option<String>, Option<String>, Option<u64>) = redis.query(
        redis::cmd("MGET")
            .arg(format!("{prefix}:redis:generation"))
            .arg(format!("{prefix}:redis:healed"))
            .arg(heal::heals_key(prefix)),
    );
    (generation.is_some() && generation == healed).then(|| heals.unwrap_or(0))
}

/// Waits for the loss to be healed; returns how long it took and how many
/// processes healed it.
async fn wait_for_heal(redis: &PrivateRedis, prefix: &str, what: &str) -> (Duration, u64) {
    let started = Instant::now();
    let heals = eventually(what, Duration::from_secs(60), || {
        let heals = healed(redis, prefix);
        async move { heals }
    })
    .await;
    (started.elapsed(), heals)
}

/// A task of the binary on these servers, output captured.
async fn task_on(redis: &PrivateRedis, app: &TestApp, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_orders-flow-cli"))
        .arg("task")
        .args(args)
        .env("LOCO_ENV", "test")
        .env("REDIS_URL", redis.url())
        .env("REDIS_PREFIX", &app.prefix)
        .env("DATABASE_URL", &app.database_url)
        .output()
        .await
        .expect("run task")
}

/// Waits until every order is terminal and notified and every KPI event
/// applied; on timeout, says what was left and what the queues held.
async fn settled(app: &TestApp) -> PipelineStatus {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let status = PipelineStatus::read(&app.ctx().db).await.unwrap();
        if status.settled {
            return status;
        }
        if Instant::now() > deadline {
            let services = app.services();
            let _: redis::RedisResult<String> = redis::cmd("PING")
                .query_async(&mut services.redis.clone())
                .await;
            let dead = app
                .server()
                .get("/api/queues/notifications/dead?limit=3")
                .authorization_bearer("test-token")
                .await
                .text();
            eprintln!("dead notifications: {dead}");
            let workflow = services.queue::<OrderWorkflowJob>().counts().await;
            let notifications = services.queue::<NotificationJob>().counts().await;
            panic!("not settled after 180 s: {status:?}\nworkflow {workflow:?}\nnotifications {notifications:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What must not change when done work is queued again.
async fn outcome(app: &TestApp) -> (u64, u64, u64, PipelineStatus) {
    let db = &app.ctx().db;
    (
        payments::Entity::find().count(db).await.unwrap(),
        order_notifications::Entity::find().count(db).await.unwrap(),
        orders::Entity::find().count(db).await.unwrap(),
        PipelineStatus::read(db).await.unwrap(),
    )
}

#[tokio::test]
async fn redis_flushed_then_restarted_empty_mid_run_heals_itself() {
    tokio::task::LocalSet::new()
        .run_until(flush_and_restart())
        .await;
}

async fn flush_and_restart() {
    let mut redis = PrivateRedis::start();
    let url = redis.url();
    let app = TestApp::boot_with(|s| s["redis"]["url"] = json!(url)).await;
    let prefix = app.prefix.clone();
    let scratch = Scratch::new();
    let file = format!("file={}", order_file(&scratch));
    let worker = || WorkerProcess::start(&redis.url(), &prefix, &app.database_url);
    let (_first, _second) = (worker(), worker());
    let beats = format!("{prefix}:orders:workflow:beats");
    eventually("two worker processes", Duration::from_secs(60), || {
        let n: u64 = redis.query(redis::cmd("ZCARD").arg(&beats));
        async move { (n == 2).then_some(()) }
    })
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let poller = poll_api(&app, Arc::clone(&stop));
    let task = spawn_import_on(
        &redis.url(),
        &prefix,
        &app.database_url,
        &[&file, "chunk_size=20"],
    );

    // 1. FLUSHALL while orders are being paid and chunks still wait.
    eventually(
        "orders being paid while the import still runs",
        Duration::from_secs(120),
        || async {
            let import = imports(&app).await.into_iter().next()?;
            let paid = payments::Entity::find().count(&app.ctx().db).await.unwrap();
            (import.chunks_done >= 10 && paid >= 50).then_some(())
        },
    )
    .await;
    redis.query::<()>(&redis::cmd("FLUSHALL"));
    let at_flush = imports(&app).await.into_iter().next().unwrap();
    assert_ne!(
        at_flush.state.as_str(),
        "done",
        "the flush landed after the import"
    );
    let (took, heals) = wait_for_heal(&redis, &prefix, "the heal after FLUSHALL").await;
    eprintln!("FLUSHALL healed in {took:?}");
    assert_eq!(heals, 1, "exactly one process healed the flush");

    // 2. SIGKILL: the API says 503, fast; then an empty server on the port.
    redis.kill();
    let server = app.http_server();
    for path in POLLED {
        let started = Instant::now();
        let response = server.get(path).authorization_bearer("test-token").await;
        assert_eq!(
            response.status_code(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{path} while Redis is down: {}",
            response.text()
        );
        assert!(started.elapsed() < Duration::from_millis(500), "{path}");
    }
    redis.start_again();
    let (took, heals) = wait_for_heal(&redis, &prefix, "the heal after the restart").await;
    eprintln!("restart healed in {took:?}");
    assert_eq!(heals, 1, "exactly one process healed the restart");

    // 3. The run ends whole, nobody typed anything.
    let out = finished(task).await;
    success(&out);
    let status = settled(&app).await;
    assert_eq!(status.orders_total, ORDERS as i64);
    let check = task_on(&redis, &app, &["orders_check"]).await;
    let said = success(&check) + &stderr(&check);
    assert!(said.contains("every check passed"), "{said}");
    let services = app.services();
    // The test's own connection still holds the socket of the killed server:
    // its first command fails ("broken pipe") and the manager reconnects.
    let _: redis::RedisResult<String> = redis::cmd("PING")
        .query_async(&mut services.redis.clone())
        .await;
    let diffs = kpi::verify(
        &app.ctx().db,
        &services.redis,
        &services.settings.redis.prefix,
    )
    .await
    .unwrap();
    assert_eq!(diffs, vec![], "kpi_verify equal");
    let figures = app
        .server()
        .get("/api/metrics")
        .authorization_bearer("test-token")
        .await;
    figures.assert_status_ok();
    assert_eq!(figures.json::<serde_json::Value>()["rebuilding"], false);

    stop.store(true, Ordering::Relaxed);
    let wrong = poller.await.unwrap();
    assert!(wrong.is_empty(), "answers other than 200/503: {wrong:#?}");

    // 4. A heal queues work that may be done already: done work queued again
    // changes nothing (the guarded transitions make each run a no-op).
    let before = outcome(&app).await;
    let db = &app.ctx().db;
    let order_ids: Vec<i64> = orders::Entity::find()
        .select_only()
        .column(orders::Column::Id)
        .into_tuple()
        .all(db)
        .await
        .unwrap();
    let notification_ids: Vec<i64> = order_notifications::Entity::find()
        .select_only()
        .column(order_notifications::Column::Id)
        .into_tuple()
        .all(db)
        .await
        .unwrap();
    let workflow = services.queue::<OrderWorkflowJob>();
    let notifications = services.queue::<NotificationJob>();
    workflow
        .push_bulk(
            &order_ids
                .iter()
                .map(|&order_id| OrderWorkflowJob { order_id })
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    notifications
        .push_bulk(&NotificationJob::batches(&notification_ids, 50))
        .await
        .unwrap();
    eventually(
        "the duplicate jobs to run",
        Duration::from_secs(120),
        || async {
            let (w, n) = (
                workflow.counts().await.unwrap(),
                notifications.counts().await.unwrap(),
            );
            (w.pending + w.running + w.scheduled + n.pending + n.running + n.scheduled == 0)
                .then_some(())
        },
    )
    .await;
    let after = outcome(&app).await;
    assert_eq!(
        (after.0, after.1, after.2),
        (before.0, before.1, before.2),
        "payments, notifications, orders"
    );
    assert_eq!(after.3.orders_by_status, before.3.orders_by_status);
    assert_eq!(
        (after.3.stock_units, after.3.sold_units),
        (before.3.stock_units, before.3.sold_units)
    );
    assert_eq!(
        (
            workflow.counts().await.unwrap().dead,
            notifications.counts().await.unwrap().dead
        ),
        (0, 0)
    );
    let check = task_on(&redis, &app, &["orders_check"]).await;
    success(&check);
}
