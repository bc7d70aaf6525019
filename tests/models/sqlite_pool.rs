//! Every connection of the SQLite pool runs the configured PRAGMAs, not only
//! the first one (Loco runs `run_on_start` once; `models::sqlite_pool`).
use std::time::{Duration, Instant};

use futures::StreamExt;
use orders_flow::models::write_txn::begin_write;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseTransaction, Statement, StreamTrait, TransactionTrait,
};

use crate::support::{on_sqlite, TestApp};

async fn pragma(txn: &DatabaseTransaction, name: &str) -> String {
    let sql = format!("PRAGMA {name}");
    let row = txn
        .query_one_raw(Statement::from_string(DatabaseBackend::Sqlite, sql))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("PRAGMA {name} returned no row"));
    row.try_get_by_index::<i64>(0)
        .map(|n| n.to_string())
        .or_else(|_| row.try_get_by_index::<String>(0))
        .unwrap()
}

/// The values of `names` on each of `connections` connections held at once.
async fn pragmas_of_held_connections(
    app: &TestApp,
    connections: usize,
    names: &[&str],
) -> Vec<Vec<String>> {
    // Transactions held at the same time are on as many pooled connections.
    let mut held = Vec::new();
    for _ in 0..connections {
        held.push(app.ctx().db.begin().await.unwrap());
    }
    let mut seen = Vec::new();
    for txn in &held {
        let mut values = Vec::new();
        for name in names {
            values.push(pragma(txn, name).await);
        }
        seen.push(values);
    }
    seen
}

#[tokio::test]
async fn every_pooled_connection_runs_the_default_pragmas() {
    let app = TestApp::boot_config(on_sqlite).await;
    let names = [
        "journal_mode",
        "synchronous",
        "journal_size_limit",
        "busy_timeout",
        "foreign_keys",
        "mmap_size",
        "cache_size",
    ];
    let seen = pragmas_of_held_connections(&app, 4, &names).await;
    // synchronous 2 is FULL. SQLite's default journal_size_limit is -1: the
    // block did not reach a connection that reads that.
    for values in &seen {
        assert_eq!(
            values,
            &["wal", "2", "67108864", "5000", "1", "0", "-2000"],
            "{names:?}"
        );
    }
}

#[tokio::test]
async fn a_configured_block_is_what_every_connection_runs() {
    let app = TestApp::boot_config(|config| {
        on_sqlite(config);
        config.database.run_on_start = Some(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA busy_timeout = 300;"
                .into(),
        );
    })
    .await;
    // OFF (0): not the default of this pool, SQLite or Loco.
    let seen = pragmas_of_held_connections(&app, 3, &["synchronous"]).await;
    assert_eq!(seen, [["0"], ["0"], ["0"]]);

    // A writer behind a held write lock waits the configured 300 ms, then
    // gives up: not after the 5 s of a connection without the block.
    let db = &app.ctx().db;
    let holder = begin_write(db).await.unwrap();
    let started = Instant::now();
    let refused = begin_write(db).await.expect_err("the write lock is held");
    let waited = started.elapsed();
    assert!(
        refused.to_string().contains("database is locked"),
        "{refused}"
    );
    assert!(
        (Duration::from_millis(300)..Duration::from_secs(3)).contains(&waited),
        "gave up after {waited:?}"
    );
    holder.rollback().await.unwrap();
    begin_write(db).await.unwrap().commit().await.unwrap();
}

/// A statement runs to its end while its first rows are still unread, so
/// that a write transaction is not held open while the async side catches
/// up. With sqlx's default buffer of 50 rows the connection's thread stopped
/// at the 51st row and waited for the reader, still inside the statement.
#[tokio::test]
async fn a_statement_finishes_before_its_rows_are_read() {
    let app = TestApp::boot_config(|config| {
        on_sqlite(config);
        config.database.run_on_start =
            Some("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 1000;".into());
    })
    .await;
    let db = &app.ctx().db;
    db.execute_unprepared(
        "CREATE TABLE many_rows (i INTEGER);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
         INSERT INTO many_rows SELECT i FROM n",
    )
    .await
    .unwrap();

    let sql = "SELECT i FROM many_rows ORDER BY i";
    let mut rows = db
        .stream_raw(Statement::from_string(DatabaseBackend::Sqlite, sql))
        .await
        .unwrap();
    let first = rows.next().await.unwrap().unwrap();
    assert_eq!(first.try_get_by_index::<i64>(0).unwrap(), 1);

    // A checkpoint that truncates the WAL waits (the busy timeout) for every
    // statement still reading the database, then reports it as busy.
    let checkpoint = db
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Sqlite,
            "PRAGMA wal_checkpoint(TRUNCATE)",
        ))
        .await
        .unwrap()
        .unwrap();
    let busy: i64 = checkpoint.try_get_by_index(0).unwrap();
    assert_eq!(busy, 0, "the statement still held its read of the database");

    let mut read = 1;
    while let Some(row) = rows.next().await {
        row.unwrap();
        read += 1;
    }
    assert_eq!(read, 1000);
}
