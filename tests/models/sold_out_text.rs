//! SQLite's sold-out transition, sent as one text from `BEGIN IMMEDIATE` to
//! `COMMIT` (`models/workflow/batch/one_text.rs`): the rows it writes are the
//! ones the Rust code builds, byte for byte; run twice it writes once and
//! touches no order another job moved; stopped half-way it changes nothing and
//! leaves no pooled connection inside its transaction.
use orders_flow::models::{
    _entities::{kpi_events, order_notifications, orders},
    kpi_events::KpiKind,
    sqlite_pool::run_transaction_text,
    statuses::OrderStatus,
    workflow,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};

use crate::support::{
    batch_rows::{assert_event_as_built, assert_notification_as_built, customers_by_id, reload},
    on_sqlite, seed, TestApp,
};

/// Orders that each need 2 of a product with 1 left: all sold out.
async fn sold_out_orders(
    db: &DatabaseConnection,
    shapes: &[(&str, &str, Option<&str>)],
) -> Vec<orders::Model> {
    let item = seed::product(db, "SKU-SHORT", 1_250, 1).await;
    let mut orders = Vec::new();
    for (order_id, customer_id, email) in shapes {
        let customer = seed::customer(db, customer_id, *email).await;
        orders.push(seed::order(db, order_id, &customer, &[(&item, 2)]).await);
    }
    orders
}

async fn notifications_of(db: &DatabaseConnection, ids: &[i64]) -> Vec<order_notifications::Model> {
    order_notifications::Entity::find()
        .filter(order_notifications::Column::OrderId.is_in(ids.iter().copied()))
        .order_by_asc(order_notifications::Column::Id)
        .all(db)
        .await
        .unwrap()
}

async fn kpi_events_of(db: &DatabaseConnection, ids: &[i64]) -> Vec<kpi_events::Model> {
    kpi_events::Entity::find()
        .filter(kpi_events::Column::OrderId.is_in(ids.iter().copied()))
        .order_by_asc(kpi_events::Column::Id)
        .all(db)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_rows_written_in_one_text_are_the_ones_rust_builds() {
    let app = TestApp::boot_config(on_sqlite).await;
    let db = &app.ctx().db;
    // Ids and addresses that JSON and SQL both have to carry unchanged.
    let shapes = [
        (
            "ORD-\"quoted\"\\back",
            "CUST-é🙂\u{1}",
            Some(" shop@example.com "),
        ),
        ("ORD-tab\there", "CUST-'single'", Some("not an address")),
        ("ORD-plain", "CUST-plain", None),
    ];
    let orders = sold_out_orders(db, &shapes).await;
    // An order placed late on a day west of UTC counts on the next UTC day.
    let mut late: orders::ActiveModel = orders[2].clone().into();
    late.placed_at = Set(Some(
        chrono::DateTime::parse_from_rfc3339("2025-10-27T23:30:00-05:00").unwrap(),
    ));
    late.update(db).await.unwrap();
    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();

    let moved = workflow::batch::reserve_many(db, &ids, true).await.unwrap();

    let customers = customers_by_id(db).await;
    let notifications = notifications_of(db, &ids).await;
    let events = kpi_events_of(db, &ids).await;
    assert_eq!((notifications.len(), events.len()), (3, 3));
    assert!(moved.orders.is_empty());
    assert_eq!(
        moved.notifications,
        notifications.iter().map(|n| n.id).collect::<Vec<_>>()
    );
    for order in &orders {
        let failed = reload(db, order).await;
        assert_eq!(
            (failed.status, failed.failure_reason.map(|r| r.as_str())),
            (OrderStatus::Failed, Some("out_of_stock"))
        );
        assert!(failed.finished_at.is_some());

        let row = notifications
            .iter()
            .find(|n| n.order_id == order.id)
            .unwrap();
        assert_notification_as_built(row, &failed, &customers[&failed.customer_id], true);
        assert_eq!(row.event, "failed");
        let row = events.iter().find(|e| e.order_id == order.id).unwrap();
        assert_event_as_built(row, KpiKind::OrderFailed, &failed);
        assert_eq!(
            (row.kind.as_str(), row.revenue_delta_cents),
            ("order_failed", 0)
        );
    }
    let days: Vec<&str> = events.iter().map(|e| e.day.as_str()).collect();
    assert_eq!(days, ["2025-10-27", "2025-10-27", "2025-10-28"]);
    let channels: Vec<&str> = notifications.iter().map(|n| n.channel.as_str()).collect();
    assert_eq!(channels, ["email", "log", "log"]);
}

#[tokio::test]
async fn run_twice_it_writes_once_and_leaves_orders_moved_elsewhere_alone() {
    let app = TestApp::boot_config(on_sqlite).await;
    let db = &app.ctx().db;
    let orders = sold_out_orders(
        db,
        &[
            ("ORD-A", "CUST-A", None),
            ("ORD-B", "CUST-B", None),
            ("ORD-C", "CUST-C", None),
        ],
    )
    .await;
    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
    // Another job reserved and paid ORD-C (say, after a decline gave stock
    // back) since this batch read the stock.
    let mut paid: orders::ActiveModel = orders[2].clone().into();
    paid.status = Set(OrderStatus::Paid);
    paid.update(db).await.unwrap();

    let first = workflow::batch::reserve_many(db, &ids, false)
        .await
        .unwrap();
    let again = workflow::batch::reserve_many(db, &ids, false)
        .await
        .unwrap();

    let notifications = notifications_of(db, &ids).await;
    let events = kpi_events_of(db, &ids).await;
    let written: Vec<(i64, &str)> = notifications
        .iter()
        .map(|n| (n.order_id, n.event.as_str()))
        .collect();
    assert_eq!(written, [(ids[0], "failed"), (ids[1], "failed")]);
    let keys: Vec<&str> = events.iter().map(|e| e.event_key.as_str()).collect();
    assert_eq!(
        keys,
        [
            format!("order_failed:{}", ids[0]),
            format!("order_failed:{}", ids[1])
        ]
    );
    assert_eq!(reload(db, &orders[2]).await.status, OrderStatus::Paid);
    // A rerun hands back the rows still queued, for a push a crash may have lost.
    let queued: Vec<i64> = notifications.iter().map(|n| n.id).collect();
    assert_eq!(first.notifications, queued);
    assert_eq!(again.notifications, queued);

    assert!(order_notifications::Entity::mark_sent(db, queued[0])
        .await
        .unwrap());
    let third = workflow::batch::reserve_many(db, &ids, false)
        .await
        .unwrap();
    assert_eq!(third.notifications, [queued[1]]);
}

#[tokio::test]
async fn stopped_half_way_it_changes_nothing_and_no_connection_stays_inside_it() {
    let app = TestApp::boot_config(on_sqlite).await;
    let db = &app.ctx().db;
    let orders = sold_out_orders(db, &[("ORD-X", "CUST-X", None), ("ORD-Y", "CUST-Y", None)]).await;
    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
    // The notifications' insert fails, after the update and the KPI events ran.
    db.execute_unprepared(
        "CREATE TRIGGER refuse_notifications BEFORE INSERT ON order_notifications \
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    )
    .await
    .unwrap();

    let refused = workflow::batch::reserve_many(db, &ids, false).await;

    let error = refused.expect_err("the trigger refuses the notifications");
    assert!(error.to_string().contains("refused by the test"), "{error}");
    for order in &orders {
        assert_eq!(reload(db, order).await.status, OrderStatus::Pending);
    }
    assert!(kpi_events_of(db, &ids).await.is_empty());
    // Every connection of the pool at once, each starting a transaction of its
    // own: one left inside the failed text would refuse (SQLite has no nested
    // transactions), and its write lock would keep the `DROP` below out.
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(
            db.begin()
                .await
                .expect("a connection outside any transaction"),
        );
    }
    for txn in held {
        txn.commit().await.unwrap();
    }
    db.execute_unprepared("DROP TRIGGER refuse_notifications")
        .await
        .unwrap();

    let moved = workflow::batch::reserve_many(db, &ids, false)
        .await
        .unwrap();

    assert_eq!(moved.notifications.len(), 2);
    assert_eq!(kpi_events_of(db, &ids).await.len(), 2);
    for order in &orders {
        assert_eq!(reload(db, order).await.status, OrderStatus::Failed);
    }
}

#[tokio::test]
async fn a_text_that_would_leave_its_transaction_open_is_refused_before_it_runs() {
    let app = TestApp::boot_config(on_sqlite).await;
    let db = &app.ctx().db;
    let order = sold_out_orders(db, &[("ORD-OPEN", "CUST-OPEN", None)]).await;
    let text = sea_orm::Statement::from_string(
        sea_orm::DbBackend::Sqlite,
        format!(
            "BEGIN IMMEDIATE; UPDATE orders SET status = 'failed' WHERE id = {}",
            order[0].id
        ),
    );

    let refused = run_transaction_text(db, text).await;

    let error = refused.expect_err("no COMMIT at its end");
    assert!(
        error.to_string().contains("from BEGIN to COMMIT"),
        "{error}"
    );
    assert_eq!(reload(db, &order[0]).await.status, OrderStatus::Pending);
    let txn = db.begin().await.expect("no connection left inside it");
    txn.commit().await.unwrap();
}
