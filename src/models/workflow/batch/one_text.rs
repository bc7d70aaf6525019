//! SQLite: the sold-out transition sent as one text, from `BEGIN IMMEDIATE` to
//! `COMMIT` ([`Dialect::runs_transaction_texts`]).
//!
//! Most orders of a large import fail for lack of stock (94.6 % in the
//! benchmark), a batch at a time, in a transaction of their own
//! ([`super::reserve_many`]). Step by step, that transaction is four round
//! trips to the connection's thread, three of them while SQLite's one write
//! lock is held: the guarded update, whose `RETURNING` rows decide what is
//! written next, then the KPI events and notifications, then `COMMIT`. Every
//! other writer waits meanwhile (BENCHMARKS.md, sessions 17 and 18: the lock
//! held 78–83 % of the time, 28 % of each hold spent between statements).
//!
//! Here nothing the transaction writes depends on a row it reads back. What
//! the KPI events and notifications say is known before it begins: an order's
//! customer, total, currency and day never change, and the status and reason
//! it reaches are this transition's. The rows are built in Rust, with the
//! code the step-by-step form uses, and sent as JSON. Which orders they are
//! written for is decided in the statement: orders of the batch now `failed`.
//! That is the orders this transaction moved, and orders an earlier one
//! failed. The earlier one wrote their KPI event and notification with them
//! (nothing else fails an order), and both tables' unique keys turn a second
//! row into nothing. An order another job reserved or paid meanwhile gets
//! neither.
use std::collections::HashMap;

use sea_orm::{DatabaseConnection, DbErr, EntityTrait, QueryFilter, Value};

use crate::models::{
    _entities::{customers, orders},
    kpi_events::{KpiKind, OrderEvent},
    order_notifications::Queued,
    sql::{id_in, Dialect},
    sqlite_pool::run_transaction_text,
    statuses::{FailureReason, NotificationStatus, OrderStatus},
};

/// `pending → failed (out_of_stock)` for `ids`, with the KPI events and
/// notifications of the orders it moved; returns the ids of those orders'
/// `failed` notifications still queued, to push (new ones, and any a crash
/// left). The same as the step-by-step form in `reserve.rs`, in one text.
/// `customers` holds the orders' customers.
///
/// # Errors
/// Database errors (nothing is changed), or an order's customer missing.
pub(super) async fn fail_short(
    db: &DatabaseConnection,
    ids: &[i64],
    customers: &HashMap<i64, customers::Model>,
    email_enabled: bool,
) -> Result<Vec<i64>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let now = chrono::Utc::now();
    let failed: Vec<orders::Model> = orders::Entity::find()
        .filter(id_in(
            db.get_database_backend(),
            orders::Column::Id,
            ids.iter().copied(),
        ))
        .all(db)
        .await?
        .into_iter()
        .map(|order| orders::Model {
            status: OrderStatus::Failed,
            failure_reason: Some(FailureReason::OutOfStock),
            finished_at: Some(now.into()),
            updated_at: now.naive_utc(),
            ..order
        })
        .collect();
    let kpi_rows = serde_json::Value::from_iter(failed.iter().map(|order| {
        let event = OrderEvent::of(KpiKind::OrderFailed, order);
        serde_json::json!([
            event.event_key,
            event.kind.as_str(),
            event.order_id,
            event.customer_id,
            event.day,
            event.revenue_delta_cents,
        ])
    }));
    let event = OrderStatus::Failed.as_str();
    let events: Vec<(&str, &orders::Model)> = failed.iter().map(|o| (event, o)).collect();
    let notification_rows = serde_json::Value::from_iter(
        Queued::of_many(&events, customers, email_enabled)?
            .into_iter()
            .map(|q| serde_json::json!([q.order_id, q.event, q.channel, q.payload])),
    );
    let ids_json = serde_json::Value::from(ids.to_vec()).to_string();
    let failed_status = Value::from(OrderStatus::Failed.as_str());
    let queued = Value::from(NotificationStatus::Queued.as_str());
    let values = vec![
        // The guarded update.
        failed_status.clone(),
        FailureReason::OutOfStock.as_str().into(),
        now.into(),
        now.naive_utc().into(),
        ids_json.clone().into(),
        OrderStatus::Pending.as_str().into(),
        // KPI events.
        kpi_rows.to_string().into(),
        failed_status.clone(),
        // Notifications.
        queued.clone(),
        now.naive_utc().into(),
        now.naive_utc().into(),
        notification_rows.to_string().into(),
        failed_status,
        // Those still queued.
        ids_json.into(),
        event.into(),
        queued,
    ];
    let rows = run_transaction_text(db, Dialect::Sqlite.statement(FAIL_SHORT, values)).await?;
    rows.iter()
        .map(|row| {
            sea_orm::sqlx::Row::try_get::<i64, _>(row, 0)
                .map_err(|e| DbErr::Type(format!("notification id: {e}")))
        })
        .collect()
}

/// The text of [`fail_short`]. JSON rows are arrays, read with `->>` (SQLite
/// 3.38): the text is the same for any batch, so each connection prepares it
/// once. An `INSERT … SELECT` with an upsert needs its `WHERE`: without one,
/// SQLite would read `ON CONFLICT` as the join's `ON`.
const FAIL_SHORT: &str = "\
BEGIN IMMEDIATE;
UPDATE orders SET status = ?, failure_reason = ?, finished_at = ?, updated_at = ? \
WHERE id IN (SELECT value FROM json_each(?)) AND status = ?;
INSERT INTO kpi_events (event_key, kind, order_id, customer_id, day, revenue_delta_cents) \
SELECT e.value ->> 0, e.value ->> 1, e.value ->> 2, e.value ->> 3, e.value ->> 4, e.value ->> 5 \
FROM json_each(?) AS e JOIN orders AS o ON o.id = e.value ->> 2 WHERE o.status = ? \
ON CONFLICT (event_key) DO NOTHING;
INSERT INTO order_notifications \
(order_id, event, channel, status, payload, attempts, created_at, updated_at) \
SELECT e.value ->> 0, e.value ->> 1, e.value ->> 2, ?, e.value ->> 3, 0, ?, ? \
FROM json_each(?) AS e JOIN orders AS o ON o.id = e.value ->> 0 WHERE o.status = ? \
ON CONFLICT (order_id, event) DO NOTHING;
SELECT id FROM order_notifications \
WHERE order_id IN (SELECT value FROM json_each(?)) AND event = ? AND status = ? ORDER BY id;
COMMIT";
