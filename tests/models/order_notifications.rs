//! Queueing notifications: one row per (order, event), in the caller's
//! transaction, on the right channel; and finding the ones whose job was lost.
use std::time::Duration;

use orders_flow::models::{
    order_notifications::{self, channel, queue_for, queue_many, requeue_stale, Payload},
    statuses::{FailureReason, NotificationStatus, OrderStatus},
};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};

use crate::support::{shop, TestApp};

async fn row(app: &TestApp, id: i64) -> order_notifications::Model {
    order_notifications::Entity::find_by_id(id)
        .one(&app.ctx().db)
        .await
        .unwrap()
        .expect("notification row")
}

#[tokio::test]
async fn queueing_twice_for_one_order_and_event_creates_one_row() {
    let app = TestApp::boot().await;
    let ada = shop::customer(&app, "C-1", Some("ada@example.com")).await;
    let order = shop::order(
        &app,
        "O-1",
        &ada,
        OrderStatus::Failed,
        12_345,
        Some(FailureReason::OutOfStock),
    )
    .await;
    let db = &app.ctx().db;

    let txn = db.begin().await.unwrap();
    let first = queue_for(&txn, &order, "failed", None, true).await.unwrap();
    txn.commit().await.unwrap();
    let again = queue_for(db, &order, "failed", None, true).await.unwrap();
    let other_event = queue_for(db, &order, "refund:1", Some("damaged"), true)
        .await
        .unwrap();

    let id = first.expect("the first call inserts");
    assert_eq!(again, None, "a second row for the same event");
    assert!(other_event.is_some_and(|other| other != id));
    let rows = order_notifications::Entity::for_order(db, order.id)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);

    let queued = row(&app, id).await;
    assert_eq!(
        (
            queued.event.as_str(),
            queued.channel.as_str(),
            queued.status.as_str()
        ),
        ("failed", channel::EMAIL, "queued")
    );
    assert_eq!(
        (queued.attempts, queued.error, queued.sent_at),
        (0, None, None)
    );
    // The stored JSON names statuses by their words.
    let stored: serde_json::Value = serde_json::from_str(&queued.payload).unwrap();
    assert_eq!(stored["status"], "failed");
    assert_eq!(stored["reason"], "out_of_stock");
    let payload: Payload = serde_json::from_str(&queued.payload).unwrap();
    assert_eq!(
        payload,
        Payload {
            order_id: "O-1".to_string(),
            internal_order_id: order.id,
            customer_id: "C-1".to_string(),
            status: OrderStatus::Failed,
            total_cents: 12_345,
            currency: "EUR".to_string(),
            // No reason given: the order's failure reason.
            reason: Some("out_of_stock".to_string()),
            email: Some("ada@example.com".to_string()),
        }
    );
}

/// A batch that paid some orders and failed others queues both in one
/// statement. Run again over rows that exist (a rerun after a crash), it
/// returns the rows of exactly its own orders and events still `queued`: not
/// a row already sent, nor another event's row of the same order.
#[tokio::test]
async fn a_mixed_batch_queues_each_order_with_its_own_event_and_a_rerun_finds_them() {
    let app = TestApp::boot().await;
    let db = &app.ctx().db;
    let ada = shop::customer(&app, "C-1", Some("ada@example.com")).await;
    let bob = shop::customer(&app, "C-2", None).await;
    let paid = shop::order(&app, "O-1", &ada, OrderStatus::Paid, 500, None).await;
    let failed = shop::order(
        &app,
        "O-2",
        &bob,
        OrderStatus::Failed,
        700,
        Some(FailureReason::PaymentDeclined),
    )
    .await;
    let sent = shop::order(&app, "O-3", &ada, OrderStatus::Paid, 900, None).await;
    let customers = [(ada.id, ada.clone()), (bob.id, bob.clone())].into();
    let batch = [("paid", &paid), ("failed", &failed), ("paid", &sent)];

    let first = queue_many(db, &batch, &customers, true, None)
        .await
        .unwrap();
    assert_eq!(first.len(), 3);
    let mut events: Vec<(i64, String)> = Vec::new();
    let mut sent_row = None;
    for id in &first {
        let n = row(&app, *id).await;
        if n.order_id == sent.id {
            sent_row = Some(n.id);
        }
        events.push((n.order_id, n.event));
    }
    events.sort();
    assert_eq!(
        events,
        [
            (paid.id, "paid".to_string()),
            (failed.id, "failed".to_string()),
            (sent.id, "paid".to_string())
        ]
    );

    // One row was delivered since, and the failed order has another event queued.
    let sent_row = sent_row.expect("the third order's row");
    order_notifications::Entity::update_many()
        .col_expr(
            order_notifications::Column::Status,
            Expr::value(NotificationStatus::Sent),
        )
        .filter(order_notifications::Column::OrderId.eq(sent.id))
        .exec(db)
        .await
        .unwrap();
    let other_event = queue_for(db, &failed, "refund:1", None, true)
        .await
        .unwrap()
        .expect("a new event");

    let mut again = queue_many(db, &batch, &customers, true, None)
        .await
        .unwrap();
    again.sort_unstable();
    let mut still_queued: Vec<i64> = first.iter().copied().filter(|id| *id != sent_row).collect();
    still_queued.sort_unstable();
    assert_eq!(again, still_queued);
    assert!(!again.contains(&other_event));
    assert_eq!(
        order_notifications::Entity::find()
            .all(db)
            .await
            .unwrap()
            .len(),
        4
    );
}

#[tokio::test]
async fn a_notification_queued_in_a_rolled_back_transaction_does_not_exist() {
    let app = TestApp::boot().await;
    let ada = shop::customer(&app, "C-1", Some("ada@example.com")).await;
    let order = shop::order(&app, "O-1", &ada, OrderStatus::Paid, 500, None).await;
    let txn = app.ctx().db.begin().await.unwrap();
    assert!(queue_for(&txn, &order, "paid", None, true)
        .await
        .unwrap()
        .is_some());
    txn.rollback().await.unwrap();
    let rows = order_notifications::Entity::for_order(&app.ctx().db, order.id)
        .await
        .unwrap();
    assert!(rows.is_empty());
    // ...so the workflow's retry can queue it for real.
    assert!(queue_for(&app.ctx().db, &order, "paid", None, true)
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn the_log_channel_is_used_without_a_usable_email_or_with_email_disabled() {
    let app = TestApp::boot().await;
    let db = &app.ctx().db;
    let cases = [
        ("no-email", None, true, channel::LOG),
        ("blank", Some("  "), true, channel::LOG),
        ("not-an-address", Some("nobody"), true, channel::LOG),
        ("disabled", Some("bob@example.com"), false, channel::LOG),
        ("enabled", Some("bob@example.com"), true, channel::EMAIL),
    ];
    for (name, email, enabled, expected) in cases {
        let customer = shop::customer(&app, name, email).await;
        let order = shop::order(
            &app,
            &format!("O-{name}"),
            &customer,
            OrderStatus::Paid,
            100,
            None,
        )
        .await;
        let id = queue_for(db, &order, "paid", None, enabled)
            .await
            .unwrap()
            .unwrap();
        let queued = row(&app, id).await;
        assert_eq!(queued.channel, expected, "case {name}");
        let payload: Payload = serde_json::from_str(&queued.payload).unwrap();
        assert_eq!(
            payload.email.is_some(),
            expected == channel::EMAIL,
            "case {name}"
        );
    }
}

#[tokio::test]
async fn stale_queued_rows_are_returned_once_for_the_recovery_sweep() {
    let app = TestApp::boot().await;
    let db = &app.ctx().db;
    let ada = shop::customer(&app, "C-1", None).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let order = shop::order(&app, &format!("O-{n}"), &ada, OrderStatus::Paid, 100, None).await;
        ids.push(
            queue_for(db, &order, "paid", None, false)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let (old_queued, fresh, old_sent) = (ids[0], ids[1], ids[2]);
    let an_hour_ago = chrono::Utc::now().naive_utc() - chrono::TimeDelta::hours(1);
    order_notifications::Entity::update_many()
        .col_expr(
            order_notifications::Column::UpdatedAt,
            Expr::value(an_hour_ago),
        )
        .filter(order_notifications::Column::Id.is_in([old_queued, old_sent]))
        .exec(db)
        .await
        .unwrap();
    order_notifications::Entity::update_many()
        .col_expr(
            order_notifications::Column::Status,
            Expr::value(NotificationStatus::Sent),
        )
        .filter(order_notifications::Column::Id.eq(old_sent))
        .exec(db)
        .await
        .unwrap();

    let stale = requeue_stale(db, Duration::from_secs(600)).await.unwrap();
    assert_eq!(
        stale,
        [old_queued],
        "only the old row still queued (fresh: {fresh})"
    );
    // Touched: the next sweep does not push it again while its job waits.
    assert!(requeue_stale(db, Duration::from_secs(600))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        row(&app, old_queued).await.status,
        NotificationStatus::Queued
    );
}
