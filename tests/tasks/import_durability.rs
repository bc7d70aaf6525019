//! An import that loses its chunks never reports success: Redis flushed or
//! restarted mid-import costs nothing, a stopped task leaves `interrupted`, and
//! "no worker" is said only when no worker process beats.
//!
//! The Redis faults hit a private `redis-server` started on a free port (never
//! the shared one); the workers and the task are real processes.
use std::{
    collections::HashSet,
    fs::File,
    process::{Command, Output, Stdio},
    time::Duration,
};

use chrono::{TimeZone, Utc};
use orders_flow::{
    models::{
        _entities::{orders, payments},
        generator::{generate, GenerateOptions},
        import::Format,
        imports::Model as Import,
    },
    workers::import_chunk::ImportChunkJob,
};
use sea_orm::{EntityTrait, QuerySelect};

use crate::support::{
    eventually,
    imports::{done, import_workers, imports, run_task, stderr, stdout, success, Scratch},
    servers::{PrivateRedis, WorkerProcess},
    TestApp,
};

pub(super) const ORDERS: u64 = 4_000;

/// `ORDERS` orders in the items format.
pub(super) fn order_file(scratch: &Scratch) -> String {
    let path = scratch.path("orders.csv");
    let options = GenerateOptions {
        orders: ORDERS,
        format: Format::Items,
        seed: 17,
        customers: 200,
        products: 50,
        now: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
    };
    generate(File::create(&path).unwrap(), options).unwrap();
    path
}

/// `orders_import` on `redis` as a process of its own, output captured.
fn spawn_import(app: &TestApp, redis_url: &str, args: &[&str]) -> tokio::process::Child {
    spawn_import_on(redis_url, &app.prefix, &app.database_url, args)
}

/// `orders_import` on these servers, output captured.
pub(super) fn spawn_import_on(
    redis_url: &str,
    prefix: &str,
    database_url: &str,
    args: &[&str],
) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_orders-flow-cli"))
        .args(["task", "orders_import"])
        .args(args)
        .env("LOCO_ENV", "test")
        .env("REDIS_URL", redis_url)
        .env("REDIS_PREFIX", prefix)
        .env("DATABASE_URL", database_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn import")
}

pub(super) async fn finished(task: tokio::process::Child) -> Output {
    tokio::time::timeout(Duration::from_secs(240), task.wait_with_output())
        .await
        .expect("the import task to exit")
        .expect("import output")
}

async fn the_import(app: &TestApp) -> Import {
    eventually("the import row", Duration::from_secs(30), || async {
        imports(app).await.into_iter().next()
    })
    .await
}

enum Fault {
    Flush,
    Restart,
}

/// Two worker processes; the fault strikes while chunks wait in Redis; the
/// task must send them again and exit 0 with every order there once.
async fn import_survives(fault: Fault) {
    let app = TestApp::boot().await;
    let mut redis = PrivateRedis::start();
    let scratch = Scratch::new();
    let file = format!("file={}", order_file(&scratch));
    let worker = || WorkerProcess::start(&redis.url(), &app.prefix, &app.database_url);
    let (_first, _second) = (worker(), worker());
    let beats = format!("{}:orders:import:beats", app.prefix);
    eventually("two worker processes", Duration::from_secs(60), || {
        let n: u64 = redis.query(redis::cmd("ZCARD").arg(&beats));
        async move { (n == 2).then_some(()) }
    })
    .await;
    let task = spawn_import(&app, &redis.url(), &[&file, "chunk_size=20"]);
    let active = format!("{}:orders:import:active", app.prefix);
    eventually(
        "chunks written and more waiting in Redis",
        Duration::from_secs(120),
        || {
            let waiting: u64 = redis.query(redis::cmd("LLEN").arg(&active));
            let app = &app;
            async move {
                let import = imports(app).await.into_iter().next()?;
                (import.chunks_done >= 10 && waiting >= 8).then_some(())
            }
        },
    )
    .await;
    match fault {
        Fault::Flush => redis.query::<()>(&redis::cmd("FLUSHALL")),
        Fault::Restart => redis.restart_empty(),
    }
    let at_fault = the_import(&app).await;
    assert_ne!(
        at_fault.state.as_str(),
        "done",
        "the fault landed after the import"
    );

    let out = finished(task).await;
    let said = success(&out) + &stderr(&out);
    assert!(said.contains("chunks sent again"), "{said}");
    assert!(!said.contains("no worker is consuming"), "{said}");
    let import = done(&app, at_fault.id).await;
    assert_eq!(import.chunks_done, import.chunks_total);
    assert_eq!(
        (import.orders_read, import.orders_created),
        (ORDERS as i64, ORDERS as i64)
    );
    let db = &app.ctx().db;
    let ids: Vec<String> = orders::Entity::find()
        .select_only()
        .column(orders::Column::ExternalId)
        .into_tuple()
        .all(db)
        .await
        .unwrap();
    assert_eq!(ids.len() as u64, ORDERS, "every order exists");
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "each once"
    );
    let paid: Vec<i64> = payments::Entity::find()
        .select_only()
        .column(payments::Column::OrderId)
        .into_tuple()
        .all(db)
        .await
        .unwrap();
    assert_eq!(
        paid.iter().collect::<HashSet<_>>().len(),
        paid.len(),
        "no order charged twice"
    );
}

#[tokio::test]
async fn a_redis_flush_mid_import_costs_nothing() {
    import_survives(Fault::Flush).await;
}

#[tokio::test]
async fn a_redis_killed_and_restarted_empty_mid_import_costs_nothing() {
    import_survives(Fault::Restart).await;
}

/// Puts an entry in apalis's worker registry of the import queue that looks
/// alive (a heartbeat an hour ahead) with no process behind it.
async fn registry_entry(app: &TestApp) {
    let queue = app.services().queue::<ImportChunkJob>();
    let mut redis = app.redis().await;
    let _: () = redis::cmd("ZADD")
        .arg(format!("{}:workers", queue.name()))
        .arg(Utc::now().timestamp() + 3_600)
        .arg("left-by-a-killed-process")
        .query_async(&mut redis)
        .await
        .unwrap();
}

#[tokio::test]
async fn with_no_live_worker_the_task_says_so_and_the_import_is_interrupted() {
    let app = TestApp::boot().await;
    let scratch = Scratch::new();
    let file = format!("file={}", order_file(&scratch));
    // The registry says a worker is there; no process beats.
    registry_entry(&app).await;
    let out = run_task(&app, &["orders_import", &file, "chunk_size=400"]).await;
    assert!(!out.status.success(), "{}", stdout(&out));
    let message = stderr(&out);
    assert!(
        message.contains("no worker is consuming the import queue: 10 of 10 chunks"),
        "{message}"
    );
    assert!(message.contains("cargo loco start --worker"), "{message}");
    let [import] = imports(&app).await.try_into().unwrap();
    assert_eq!(import.state.as_str(), "interrupted");
    assert!(import.error.as_deref().unwrap().contains("no worker"));
    let api = app
        .server()
        .get(&format!("/api/imports/{}", import.id))
        .authorization_bearer("test-token")
        .await;
    api.assert_status_ok();
    let body: serde_json::Value = api.json();
    assert_eq!(body["state"], "interrupted");
    assert!(body["error"].as_str().unwrap().contains("Start a worker"));

    // What it said to do works: a worker writes the queued chunks.
    let workers = import_workers(&app).await;
    let import = done(&app, import.id).await;
    workers.stop().await;
    assert_eq!(import.orders_created, ORDERS as i64);
    assert_eq!(import.error, None);
}

#[tokio::test]
async fn live_workers_whose_registry_entries_are_gone_are_still_seen() {
    let app = TestApp::boot().await;
    let scratch = Scratch::new();
    let file = format!("file={}", order_file(&scratch));
    let workers = import_workers(&app).await;
    // As after a flush: apalis's registry is empty, the worker process lives.
    let queue = app.services().queue::<ImportChunkJob>();
    let mut redis = app.redis().await;
    let _: () = redis::cmd("DEL")
        .arg(format!("{}:workers", queue.name()))
        .query_async(&mut redis)
        .await
        .unwrap();
    let out = run_task(&app, &["orders_import", &file, "chunk_size=200"]).await;
    workers.stop().await;
    let said = success(&out) + &stderr(&out);
    assert!(!said.contains("no worker"), "{said}");
    let [import] = imports(&app).await.try_into().unwrap();
    assert_eq!(import.state.as_str(), "done");
}

#[tokio::test]
async fn sigterm_leaves_the_import_interrupted_not_importing() {
    let app = TestApp::boot().await;
    let scratch = Scratch::new();
    let file = format!("file={}", order_file(&scratch));
    let queue = app.services().queue::<ImportChunkJob>();
    // A worker process that beats but takes nothing: the task waits for room.
    let mut redis = app.redis().await;
    let _: () = redis::cmd("ZADD")
        .arg(format!("{}:beats", queue.name()))
        .arg(Utc::now().timestamp() + 3_600)
        .arg("idle-process")
        .query_async(&mut redis)
        .await
        .unwrap();
    let task = spawn_import(
        &app,
        &crate::support::redis_url(),
        &[&file, "chunk_size=20"],
    );
    eventually("the queue to fill up", Duration::from_secs(60), || async {
        (queue.counts().await.unwrap().pending > 32).then_some(())
    })
    .await;
    let pid = task.id().expect("running").to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = finished(task).await;
    assert!(!out.status.success());
    let message = stderr(&out);
    assert!(message.contains("stopped by SIGTERM"), "{message}");
    let [import] = imports(&app).await.try_into().unwrap();
    assert_eq!(import.state.as_str(), "interrupted");
    assert!(import
        .error
        .as_deref()
        .unwrap()
        .contains("import the file again"));
    assert!(
        import.finished_at.is_some(),
        "stopped while reading: it can never become done"
    );
}
