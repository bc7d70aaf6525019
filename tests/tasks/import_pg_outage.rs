//! A PostgreSQL restart of a few seconds mid-import kills no job: the chunk
//! jobs' retries span the outage, the task rides it out too and exits 0, and
//! the orders caught in it (workflow, notifications, figures) all finish: the
//! run passes `orders_check` with no dead job (issue 18 §5).
//!
//! Runs on a throwaway cluster (`initdb` on a free port) and a private Redis,
//! whatever `DATABASE_URL` says: the fault needs a server of the test's own.
use std::{process::Command, time::Duration};

use orders_flow::models::{
    _entities::orders, imports::Entity as Imports, pipeline::PipelineStatus,
};
use sea_orm::{Database, EntityTrait, PaginatorTrait};

use super::import_durability::{finished, order_file, spawn_import_on, ORDERS};
use crate::support::{
    eventually,
    imports::{stderr, success, Scratch},
    servers::{PrivatePostgres, PrivateRedis, WorkerProcess},
};

/// The first import's `(chunks_done, chunks_total, state)`, if it exists yet.
async fn progress(url: &str) -> Option<(i64, i64, String)> {
    let db = Database::connect(url).await.ok()?;
    let import = Imports::find().one(&db).await.ok()??;
    db.close().await.ok();
    Some((
        import.chunks_done,
        import.chunks_total,
        import.state.to_string(),
    ))
}

#[tokio::test]
async fn a_postgres_restart_mid_run_kills_no_job() {
    let pg = PrivatePostgres::start();
    let redis = PrivateRedis::start();
    let prefix = format!("orders-flow:test:{}", uuid::Uuid::new_v4().simple());
    let migrated = Command::new(env!("CARGO_BIN_EXE_orders-flow-cli"))
        .args(["db", "migrate"])
        .env("LOCO_ENV", "test")
        .env("REDIS_URL", redis.url())
        .env("REDIS_PREFIX", &prefix)
        .env("DATABASE_URL", pg.url())
        .output()
        .expect("migrate");
    assert!(migrated.status.success(), "{migrated:?}");

    let scratch = Scratch::new();
    let file = format!("file={}", order_file(&scratch));
    let _worker = WorkerProcess::start(&redis.url(), &prefix, &pg.url());
    let beats = format!("{prefix}:orders:import:beats");
    eventually("the worker process", Duration::from_secs(60), || {
        let n: u64 = redis.query(redis::cmd("ZCARD").arg(&beats));
        async move { (n == 1).then_some(()) }
    })
    .await;
    let task = spawn_import_on(&redis.url(), &prefix, &pg.url(), &[&file, "chunk_size=20"]);
    let url = pg.url();
    eventually("chunks being written", Duration::from_secs(120), || async {
        let (done, _, _) = progress(&url).await?;
        (done >= 10).then_some(())
    })
    .await;
    pg.stop();
    // The outage itself: nothing to poll for, the database is down.
    tokio::time::sleep(Duration::from_secs(3)).await;
    pg.start_again();
    let (done, _, state) = progress(&url).await.expect("the import row");
    assert_ne!(
        state, "done",
        "the restart landed after the import ({done} chunks)"
    );

    let out = finished(task).await;
    let said = success(&out) + &stderr(&out);
    let (done, total, state) = progress(&url).await.expect("the import row");
    assert_eq!((state.as_str(), done), ("done", total), "{said}");
    let dead: u64 = redis.query(redis::cmd("SCARD").arg(format!("{prefix}:orders:import:dead")));
    assert_eq!(dead, 0, "no chunk job died");
    let db = Database::connect(&url).await.unwrap();
    assert_eq!(orders::Entity::find().count(&db).await.unwrap(), ORDERS);
    eventually(
        "every order terminal and notified, every KPI event applied",
        Duration::from_secs(180),
        || async { PipelineStatus::read(&db).await.ok()?.settled.then_some(()) },
    )
    .await;
    db.close().await.ok();
    // Terminal orders, one notification each, stock conserved, KPIs equal to
    // the database, and no dead job in any queue.
    let checked = Command::new(env!("CARGO_BIN_EXE_orders-flow-cli"))
        .args(["task", "orders_check"])
        .env("LOCO_ENV", "test")
        .env("REDIS_URL", redis.url())
        .env("REDIS_PREFIX", &prefix)
        .env("DATABASE_URL", pg.url())
        .output()
        .expect("orders_check");
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}
