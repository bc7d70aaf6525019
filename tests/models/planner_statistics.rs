//! The import refreshes PostgreSQL's planner statistics only when they are
//! stale (the tables hold twice the rows they say), not once per import:
//! in a stream of small imports into large tables, every import ran a 0.5 s
//! ANALYZE, and the chunk that ran it held its orders back meanwhile.
use orders_flow::models::import_writer::refresh_planner_statistics;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::support::{shop, TestApp};

/// Orders `from..=to` of `customer`, written in one statement.
async fn orders(app: &TestApp, customer: i64, from: i64, to: i64) {
    let sql = format!(
        "INSERT INTO orders (external_id, customer_id, currency, total_cents) \
         SELECT 'O-' || g, {customer}, 'EUR', 100 FROM generate_series({from}, {to}) g"
    );
    app.ctx().db.execute_unprepared(&sql).await.unwrap();
}

/// The rows PostgreSQL's statistics say `orders` holds (-1: never analyzed).
async fn rows_in_statistics(app: &TestApp) -> i64 {
    let db = &app.ctx().db;
    db.query_one_raw(Statement::from_string(
        DbBackend::Postgres,
        "SELECT reltuples::bigint FROM pg_class WHERE oid = 'orders'::regclass",
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get_by_index(0)
    .unwrap()
}

#[tokio::test]
async fn statistics_are_refreshed_when_twice_off_and_not_before() {
    let app = TestApp::boot().await;
    let db = &app.ctx().db;
    if db.get_database_backend() != DbBackend::Postgres {
        // SQLite's plans here do not depend on statistics: nothing to refresh.
        assert!(!refresh_planner_statistics(db).await);
        return;
    }
    // This test's own database; autovacuum's analyze would race the checks.
    db.execute_unprepared("ALTER TABLE orders SET (autovacuum_enabled = false)")
        .await
        .unwrap();
    let customer = shop::customer(&app, "C-1", None).await.id;
    let before = rows_in_statistics(&app).await;

    orders(&app, customer, 1, 200).await;
    assert!(
        !refresh_planner_statistics(db).await,
        "200 rows are not stale"
    );
    assert_eq!(rows_in_statistics(&app).await, before);

    orders(&app, customer, 201, 1_000).await;
    assert!(
        refresh_planner_statistics(db).await,
        "1,000 rows against none"
    );
    assert_eq!(rows_in_statistics(&app).await, 1_000);

    orders(&app, customer, 1_001, 1_900).await;
    assert!(
        !refresh_planner_statistics(db).await,
        "1,900 rows against 1,000"
    );
    assert_eq!(rows_in_statistics(&app).await, 1_000);

    orders(&app, customer, 1_901, 2_000).await;
    assert!(
        refresh_planner_statistics(db).await,
        "2,000 rows against 1,000"
    );
    assert_eq!(rows_in_statistics(&app).await, 2_000);
}
