//! The figures in Redis always reconcile with the database.
use std::{collections::BTreeMap, process::Command, time::Duration};

use orders_flow::models::{
    _entities::{customers, kpi_events, orders},
    kpi::{self, figures, store},
};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::support::{eventually, kpi_data, TestApp};

async fn boot() -> TestApp {
    TestApp::boot_with(|s| s["payment"]["success_rate"] = serde_json::json!(0.8)).await
}

/// Revenue per placed day, computed from the orders table itself.
fn revenue_by_day(orders: &[orders::Model]) -> BTreeMap<String, (i64, i64)> {
    let mut days = BTreeMap::new();
    for o in orders.iter().filter(|o| o.status.as_str() == "paid") {
        let day = o.placed_at.unwrap().format("%Y-%m-%d").to_string();
        let entry: &mut (i64, i64) = days.entry(day).or_default();
        entry.0 += o.total_cents;
        entry.1 += 1;
    }
    days
}

#[tokio::test]
async fn after_a_run_redis_equals_the_database() {
    let app = boot().await;
    let orders = kpi_data::run_orders(&app, 300).await;
    let failed = orders
        .iter()
        .filter(|o| o.status.as_str() == "failed")
        .count();
    assert!(
        failed > 0
            && orders
                .iter()
                .any(|o| o.failure_reason.map(|r| r.as_str()) == Some("out_of_stock"))
    );
    assert!(orders
        .iter()
        .any(|o| o.failure_reason.map(|r| r.as_str()) == Some("payment_declined")));

    let s = app.services();
    let prefix = &s.settings.redis.prefix;
    assert_eq!(
        kpi_data::drain_all(&app.ctx().db, &s.redis, prefix).await,
        300
    );
    assert!(kpi::verify(&app.ctx().db, &s.redis, prefix)
        .await
        .unwrap()
        .is_empty());
    for (day, (revenue, count)) in revenue_by_day(&orders) {
        let f = figures::read_day(&s.redis, prefix, &day).await.unwrap();
        assert_eq!((f.revenue_cents, f.order_count), (revenue, count), "{day}");
        assert_eq!(
            f.avg_order_value_cents(),
            revenue / count,
            "integer division"
        );
    }
    let total_failed: i64 = futures::future::join_all(
        kpi_data::DAYS
            .iter()
            .map(|d| figures::read_day(&s.redis, prefix, d)),
    )
    .await
    .into_iter()
    .map(|f| f.unwrap().failed_count)
    .sum();
    assert_eq!(total_failed, failed as i64);

    let status = orders_flow::models::pipeline::PipelineStatus::read(&app.ctx().db)
        .await
        .unwrap();
    assert_eq!(status.orders_open, 0);
    assert_eq!(status.kpi_events_unapplied, 0);
    assert_eq!(
        status.stock_units + status.sold_units,
        kpi_data::INITIAL_STOCK,
        "stock is conserved"
    );
}

#[tokio::test]
async fn events_count_once_however_often_they_are_applied() {
    let app = boot().await;
    kpi_data::run_orders(&app, 60).await;
    let s = app.services();
    let prefix = s.settings.redis.prefix.clone();
    let db = &app.ctx().db;
    // Two drainers at once, then the same events pushed through the script again.
    let events = kpi::ledger::unapplied(db, &Default::default(), Some(1_000))
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        kpi_data::drain_all(db, &s.redis, &prefix),
        kpi_data::drain_all(db, &s.redis, &prefix)
    );
    assert_eq!(a + b, 60);
    let mut conn = s.redis.clone();
    assert_eq!(
        store::apply(&mut conn, &prefix, &events).await.unwrap(),
        Some(0)
    );
    assert!(kpi::verify(db, &s.redis, &prefix).await.unwrap().is_empty());
}

#[tokio::test]
async fn every_guard_an_apply_touches_expires_within_the_policy() {
    let app = boot().await;
    let s = app.services();
    let prefix = s.settings.redis.prefix.clone();
    // Ids spread over three guard buckets, out of order, in one call.
    let ids = [
        1,
        store::GUARD_BUCKET * 2 + 7,
        2,
        store::GUARD_BUCKET + 3,
        store::GUARD_BUCKET * 2 + 8,
    ];
    let mut conn = s.redis.clone();
    assert_eq!(
        store::apply(&mut conn, &prefix, &failed_events(ids))
            .await
            .unwrap(),
        Some(5)
    );
    for id in [1, store::GUARD_BUCKET + 3, store::GUARD_BUCKET * 2 + 7] {
        let ttl: i64 = redis::cmd("TTL")
            .arg(store::guard_key(&prefix, id))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(
            (1..=store::GUARD_TTL_SECS).contains(&ttl),
            "guard of {id}: ttl {ttl}"
        );
    }
}

/// Failed-order events with the given ids: they change one counter each.
fn failed_events(ids: impl IntoIterator<Item = i64>) -> Vec<store::EventArgs> {
    ids.into_iter()
        .map(|id| store::EventArgs {
            id,
            kind: "order_failed".into(),
            revenue_delta_cents: 0,
            customer: "C1".into(),
            day: "2025-01-01".into(),
        })
        .collect()
}

#[tokio::test]
async fn an_event_guarded_by_an_earlier_version_is_not_applied_again() {
    let app = boot().await;
    let prefix = app.services().settings.redis.prefix.clone();
    let mut conn = app.services().redis.clone();
    // Before the bitmaps, a guard was an integer set of 500 ids. Event 1,003
    // was applied by that version; its cursor had not moved past it yet.
    let () = redis::cmd("SADD")
        .arg(store::legacy_guard_key(&prefix, 1_003))
        .arg(1_003)
        .query_async(&mut conn)
        .await
        .unwrap();
    let applied = store::apply(&mut conn, &prefix, &failed_events([1_002, 1_003, 1_004]))
        .await
        .unwrap();
    assert_eq!(applied, Some(2), "1,003 was applied before the upgrade");
    let failed: i64 = redis::cmd("HGET")
        .arg(store::day_key(&prefix, "2025-01-01"))
        .arg("failed_count")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(failed, 2);
}

#[tokio::test]
async fn guards_take_well_under_a_byte_per_event() {
    let app = boot().await;
    let prefix = app.services().settings.redis.prefix.clone();
    let mut conn = app.services().redis.clone();
    let events = failed_events(1..=20_000);
    for slice in events.chunks(2_000) {
        store::apply(&mut conn, &prefix, slice).await.unwrap();
    }
    let mut bytes = 0;
    for guard in guard_keys(&mut conn, &prefix).await {
        let usage: i64 = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(&guard)
            .query_async(&mut conn)
            .await
            .unwrap();
        bytes += usage;
    }
    // Integer sets of 500 ids took about 4.3 bytes an event (86 KB here).
    assert!(
        (1..20_000 / 2).contains(&bytes),
        "guards of 20,000 events take {bytes} bytes"
    );
}

#[tokio::test]
async fn a_flushed_redis_is_restored_by_rebuild() {
    let app = boot().await;
    kpi_data::run_orders(&app, 120).await;
    let s = app.services();
    let prefix = s.settings.redis.prefix.clone();
    let db = &app.ctx().db;
    kpi_data::drain_all(db, &s.redis, &prefix).await;
    crate::support::delete_prefix(&format!("{prefix}:kpi"));
    assert!(
        !kpi::verify(db, &s.redis, &prefix).await.unwrap().is_empty(),
        "the flush must show"
    );
    kpi::rebuild(db, &s.redis, &prefix, None).await.unwrap();
    assert!(kpi::verify(db, &s.redis, &prefix).await.unwrap().is_empty());
    // Rebuilding one day changes nothing more, and draining afterwards adds nothing twice.
    kpi::rebuild(db, &s.redis, &prefix, Some(kpi_data::DAYS[1]))
        .await
        .unwrap();
    assert_eq!(kpi_data::drain_all(db, &s.redis, &prefix).await, 0);
    assert!(kpi::verify(db, &s.redis, &prefix).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_rebuild_counts_events_not_yet_applied_exactly_once() {
    let app = boot().await;
    kpi_data::run_orders(&app, 90).await;
    let s = app.services();
    let prefix = s.settings.redis.prefix.clone();
    let db = &app.ctx().db;
    // Nothing drained yet: a day rebuild adopts that day's events, all-time board included.
    kpi::rebuild(db, &s.redis, &prefix, Some(kpi_data::DAYS[0]))
        .await
        .unwrap();
    // The adopted events' guards expire on the same policy as applied ones.
    let mut conn = s.redis.clone();
    let guards = guard_keys(&mut conn, &prefix).await;
    assert!(!guards.is_empty(), "the rebuild adopted no event");
    for guard in &guards {
        let ttl: i64 = redis::cmd("TTL")
            .arg(guard)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(
            (1..=store::GUARD_TTL_SECS).contains(&ttl),
            "{guard}: ttl {ttl}"
        );
    }
    kpi_data::drain_all(db, &s.redis, &prefix).await;
    assert!(kpi::verify(db, &s.redis, &prefix).await.unwrap().is_empty());
}

struct PrivateRedis {
    child: std::process::Child,
}

impl PrivateRedis {
    fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (installed by scripts/services.sh)");
        Self { child }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn figures_catch_up_when_redis_comes_back() {
    let app = boot().await;
    // A port the kernel just handed out and took back. The port used to be
    // derived from the pid; once, in a full PostgreSQL run, the private Redis
    // never answered on it (likely taken: 20,000-39,999 overlaps the kernel's
    // ephemeral ports).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let redis = PrivateRedis::start(port);
    let manager = eventually("the private redis", Duration::from_secs(10), || {
        let url = url.clone();
        async move { apalis_redis::connect(url.as_str()).await.ok() }
    })
    .await;
    drop(redis); // Redis goes down before any order is paid.

    kpi_data::run_orders(&app, 60).await; // the database commits regardless
    let db = &app.ctx().db;
    let prefix = "catch-up";
    assert!(
        kpi::drain(db, &manager, prefix).await.is_err(),
        "Redis is down"
    );
    assert_eq!(
        kpi::ledger::pending_count(db).await.unwrap(),
        60,
        "nothing is lost meanwhile"
    );

    let _back = PrivateRedis::start(port);
    assert_eq!(kpi_data::drain_all(db, &manager, prefix).await, 60);
    assert!(kpi::verify(db, &manager, prefix).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_refund_lowers_revenue_and_board_but_not_order_count() {
    let app = TestApp::boot_with(|s| s["payment"]["success_rate"] = serde_json::json!(1.0)).await;
    let orders = kpi_data::run_orders(&app, 9).await;
    let s = app.services();
    let prefix = s.settings.redis.prefix.clone();
    let db = &app.ctx().db;
    kpi_data::drain_all(db, &s.redis, &prefix).await;
    let paid = orders.iter().find(|o| o.status.as_str() == "paid").unwrap();
    let customer = customers::Entity::find_by_id(paid.customer_id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let day = "2025-11-01";
    let before_all = figures::read_board(&s.redis, &store::all_time_key(&prefix), 100)
        .await
        .unwrap();
    kpi_events::Entity::insert(kpi_events::ActiveModel {
        event_key: Set("refund_processed:1".into()),
        kind: Set("refund_processed".into()),
        order_id: Set(paid.id),
        refund_id: Set(None),
        customer_id: Set(paid.customer_id),
        day: Set(day.into()),
        revenue_delta_cents: Set(-500),
        ..Default::default()
    })
    .exec(db)
    .await
    .unwrap();
    kpi_data::drain_all(db, &s.redis, &prefix).await;
    let f = figures::read_day(&s.redis, &prefix, day).await.unwrap();
    assert_eq!(
        (
            f.revenue_cents,
            f.order_count,
            f.refund_count,
            f.refunded_cents
        ),
        (-500, 0, 1, 500)
    );
    let after_all = figures::read_board(&s.redis, &store::all_time_key(&prefix), 100)
        .await
        .unwrap();
    let score = |board: &[(String, i64)]| {
        board
            .iter()
            .find(|(c, _)| *c == customer.external_id)
            .unwrap()
            .1
    };
    assert_eq!(score(&after_all), score(&before_all) - 500);
    assert!(kpi::verify(db, &s.redis, &prefix).await.unwrap().is_empty());
}

/// A refund event for `order`, `day`, `cents` (negative), written on `db`.
async fn refund_event<C: ConnectionTrait>(
    db: &C,
    key: &str,
    order: &orders::Model,
    day: &str,
    cents: i64,
) {
    kpi_events::Entity::insert(kpi_events::ActiveModel {
        event_key: Set(format!("refund_processed:{key}")),
        kind: Set("refund_processed".into()),
        order_id: Set(order.id),
        refund_id: Set(None),
        customer_id: Set(order.customer_id),
        day: Set(day.into()),
        revenue_delta_cents: Set(cents),
        ..Default::default()
    })
    .exec(db)
    .await
    .unwrap();
}

/// The applied-id guards under `prefix`.
async fn guard_keys(conn: &mut redis::aio::ConnectionManager, prefix: &str) -> Vec<String> {
    redis::cmd("KEYS")
        .arg(format!("{prefix}:kpi:seen:*"))
        .query_async(conn)
        .await
        .unwrap()
}

/// Removes every applied-id guard, as if their TTL had run out.
async fn forget_guards(app: &TestApp, prefix: &str) {
    let mut conn = app.services().redis.clone();
    let guards = guard_keys(&mut conn, prefix).await;
    if !guards.is_empty() {
        let () = redis::cmd("DEL")
            .arg(&guards)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn an_event_committed_late_is_applied_not_passed() {
    let app = TestApp::boot_with(|s| s["payment"]["success_rate"] = serde_json::json!(1.0)).await;
    let db = &app.ctx().db;
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return; // SQLite has one writer at a time: ids commit in order there.
    }
    let orders = kpi_data::run_orders(&app, 3).await;
    let s = app.services();
    let prefix = s.settings.redis.prefix.clone();
    kpi_data::drain_all(db, &s.redis, &prefix).await;
    let paid = orders.iter().find(|o| o.status.as_str() == "paid").unwrap();
    let day = "2025-11-02";

    // The slow transaction writes first (lower id, older transaction) and
    // commits last; the fast one commits in between.
    let slow = sea_orm::TransactionTrait::begin(db).await.unwrap();
    refund_event(&slow, "slow", paid, day, -300).await;
    refund_event(db, "fast", paid, day, -200).await;
    assert_eq!(
        kpi::drain(db, &s.redis, &prefix).await.unwrap(),
        0,
        "a transaction older than the fast event is still running"
    );
    assert_eq!(kpi::ledger::pending_count(db).await.unwrap(), 1);
    slow.commit().await.unwrap();

    assert_eq!(kpi_data::drain_all(db, &s.redis, &prefix).await, 2);
    let f = figures::read_day(&s.redis, &prefix, day).await.unwrap();
    assert_eq!((f.revenue_cents, f.refund_count), (-500, 2));
    assert!(kpi::verify(db, &s.redis, &prefix).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_rebuild_beside_a_running_transaction_counts_each_event_once() {
    let app = TestApp::boot_with(|s| s["payment"]["success_rate"] = serde_json::json!(1.0)).await;
    let db = &app.ctx().db;
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return; // SQLite has one writer at a time: no transaction runs beside a rebuild's.
    }
    let orders = kpi_data::run_orders(&app, 3).await;
    let s = app.services();
    let prefix = s.settings.redis.prefix.clone();
    let paid = orders.iter().find(|o| o.status.as_str() == "paid").unwrap();
    let day = "2025-11-03";

    let slow = sea_orm::TransactionTrait::begin(db).await.unwrap();
    refund_event(&slow, "slow", paid, day, -300).await;
    refund_event(db, "fast", paid, day, -200).await;
    // The rebuild counts the fast event (committed) but cannot move the
    // cursor past the slow transaction: the fast event becomes a skip.
    kpi::rebuild(db, &s.redis, &prefix, None).await.unwrap();
    let f = figures::read_day(&s.redis, &prefix, day).await.unwrap();
    assert_eq!(f.revenue_cents, -200);
    slow.commit().await.unwrap();

    // Skips hold even when the guards are long gone.
    forget_guards(&app, &prefix).await;
    assert_eq!(kpi_data::drain_all(db, &s.redis, &prefix).await, 1);
    let f = figures::read_day(&s.redis, &prefix, day).await.unwrap();
    assert_eq!((f.revenue_cents, f.refund_count), (-500, 2));
    assert!(kpi::verify(db, &s.redis, &prefix).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_day_rebuild_is_not_undone_by_expired_guards() {
    let app = boot().await;
    kpi_data::run_orders(&app, 90).await;
    let s = app.services();
    let prefix = s.settings.redis.prefix.clone();
    let db = &app.ctx().db;
    // Nothing drained yet: the day's events are counted by the rebuild and
    // must never be applied again, whatever became of their guards.
    kpi::rebuild(db, &s.redis, &prefix, Some(kpi_data::DAYS[1]))
        .await
        .unwrap();
    forget_guards(&app, &prefix).await;
    let applied = kpi_data::drain_all(db, &s.redis, &prefix).await;
    assert_eq!(applied, 60, "the other two days' events");
    assert!(kpi::verify(db, &s.redis, &prefix).await.unwrap().is_empty());
    assert_eq!(kpi::ledger::pending_count(db).await.unwrap(), 0);
}

#[tokio::test]
async fn a_rebuild_never_moves_the_cursor_back() {
    use kpi::cursor::Cursor;
    let app = boot().await;
    kpi_data::run_orders(&app, 6).await;
    let s = app.services();
    let db = &app.ctx().db;
    kpi_data::drain_all(db, &s.redis, &s.settings.redis.prefix).await;
    let drained = Cursor::read(db).await.unwrap();
    assert!(drained.at > (0, 0));
    // A rebuild whose snapshot saw an older cursor: a drainer has passed (and
    // forgotten) skips since, so going back would apply them again.
    Cursor::replace(db, Some((0, 0)), &[]).await.unwrap();
    let after = Cursor::read(db).await.unwrap();
    assert_eq!(after.at, drained.at);
    assert_eq!(
        after.generation,
        drained.generation + 1,
        "a drainer's read is void"
    );
    // A day rebuild leaves the position alone.
    Cursor::replace(db, None, &[]).await.unwrap();
    assert_eq!(Cursor::read(db).await.unwrap().at, drained.at);
}
