//! SQLite: the workflow's transactions, each sent as one text from `BEGIN
//! IMMEDIATE` to `COMMIT` ([`Dialect::runs_transaction_texts`]): the sold-out
//! transition, the reservation (when it was planned before the lock) and
//! finalize.
//!
//! Step by step, each is a round trip to the connection's thread per
//! statement, all but the first while SQLite's one write lock is held, and
//! every other writer waits meanwhile (BENCHMARKS.md, sessions 17 to 19: the
//! lock held 78–83 % of the time; 28 % of each hold spent between statements,
//! 16 % once the sold-out transition went as one text).
//!
//! Here nothing the transaction writes depends on a row it reads back. What
//! the KPI events, notifications and payments say is known before it begins:
//! an order's customer, total, currency and day never change, and the status
//! and reason it reaches are the transition's. The rows are built in Rust,
//! with the code the step-by-step form uses, and sent as JSON.
//!
//! Which orders they are written for is decided in the statements, from the
//! orders' status:
//! - **Sold out:** orders of the batch now `failed`. That is the orders this
//!   text moved, and orders an earlier one failed. The earlier one wrote their
//!   KPI event and notification with them (nothing else fails an order), and
//!   both tables' unique keys turn a second row into nothing. An order another
//!   job reserved or paid meanwhile gets neither.
//! - **Finalize:** orders of the batch still `reserved`, read before the
//!   updates that move them, which come last. `BEGIN IMMEDIATE` takes the
//!   write lock before the first statement and nothing else writes until
//!   `COMMIT`, so those are exactly the orders this text moves: stock comes
//!   back and a payment is written once, as under the row locks on PostgreSQL.
//! - **Reservation:** the orders of a plan made on the stock read before the
//!   lock, all of which fit (`reserve.rs`). The text moves them only if they
//!   are all still `pending` and the stock still covers their items; then the
//!   decision under the lock would have been the same. Its stock update runs
//!   only if the order update moved every one of them (`changes()`), so either
//!   both happen or neither does, and the caller goes step by step.
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use sea_orm::{DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, Value};

use crate::models::{
    _entities::{customers, orders},
    kpi_events::{KpiKind, OrderEvent},
    order_notifications::Queued,
    sql::{id_in, Dialect},
    sqlite_pool::run_transaction_text,
    statuses::{FailureReason, NotificationStatus, OrderStatus, PaymentStatus},
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
    let failed: Vec<orders::Model> = orders_of(db, ids)
        .await?
        .into_iter()
        .map(|order| {
            moved_to(
                order,
                OrderStatus::Failed,
                Some(FailureReason::OutOfStock),
                now,
            )
        })
        .collect();
    let kpi_rows = kpi_rows(failed.iter().map(|o| (KpiKind::OrderFailed, o)));
    let event = OrderStatus::Failed.as_str();
    let events: Vec<(&str, &orders::Model)> = failed.iter().map(|o| (event, o)).collect();
    let notification_rows = notification_rows(&events, customers, email_enabled)?;
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
        kpi_rows.into(),
        failed_status.clone(),
        // Notifications.
        queued.clone(),
        now.naive_utc().into(),
        now.naive_utc().into(),
        notification_rows.into(),
        failed_status,
        // Those still queued.
        ids_json.into(),
        event.into(),
        queued,
    ];
    let rows = run_transaction_text(db, Dialect::Sqlite.statement(FAIL_SHORT, values)).await?;
    rows.iter().map(id_of).collect()
}

/// The KPI events and notification rows of both texts, each for the orders
/// whose status is the `?` after its JSON rows. Binds: KPI rows, status;
/// queued, created at, updated at, notification rows, status.
macro_rules! terminal_rows {
    () => {
        "INSERT INTO kpi_events (event_key, kind, order_id, customer_id, day, revenue_delta_cents) \
SELECT e.value ->> 0, e.value ->> 1, e.value ->> 2, e.value ->> 3, e.value ->> 4, e.value ->> 5 \
FROM json_each(?) AS e JOIN orders AS o ON o.id = e.value ->> 2 WHERE o.status = ? \
ON CONFLICT (event_key) DO NOTHING;
INSERT INTO order_notifications \
(order_id, event, channel, status, payload, attempts, created_at, updated_at) \
SELECT e.value ->> 0, e.value ->> 1, e.value ->> 2, ?, e.value ->> 3, 0, ?, ? \
FROM json_each(?) AS e JOIN orders AS o ON o.id = e.value ->> 0 WHERE o.status = ? \
ON CONFLICT (order_id, event) DO NOTHING;
"
    };
}

/// The text of [`fail_short`]. JSON rows are arrays, read with `->>` (SQLite
/// 3.38): the text is the same for any batch, so each connection prepares it
/// once. An `INSERT … SELECT` with an upsert needs its `WHERE`: without one,
/// SQLite would read `ON CONFLICT` as the join's `ON`.
const FAIL_SHORT: &str = concat!(
    "BEGIN IMMEDIATE;
UPDATE orders SET status = ?, failure_reason = ?, finished_at = ?, updated_at = ? \
WHERE id IN (SELECT value FROM json_each(?)) AND status = ?;
",
    terminal_rows!(),
    "SELECT id FROM order_notifications \
WHERE order_id IN (SELECT value FROM json_each(?)) AND event = ? AND status = ? ORDER BY id;
COMMIT"
);

/// `reserved → paid` for `approved` (with a payment each) and `reserved →
/// failed (payment_declined)` for `declined`, their stock given back, with
/// the KPI events and notifications of the orders it moved; returns the
/// orders it paid, by id, and the ids of their notifications still queued, to
/// push. The same as the step-by-step form in `finalize.rs`, in one text.
/// `customers` holds the orders' customers.
///
/// # Errors
/// Database errors (nothing is changed), or an order's customer missing.
pub(super) async fn finalize(
    db: &DatabaseConnection,
    approved: &[(i64, String)],
    declined: &[i64],
    provider: &str,
    customers: &HashMap<i64, customers::Model>,
    email_enabled: bool,
) -> Result<(Vec<orders::Model>, Vec<i64>), DbErr> {
    if approved.is_empty() && declined.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let now = chrono::Utc::now();
    // Each order once, and never both paid and failed: one payment each, and
    // stock back only for an order this text fails.
    let approved: BTreeMap<i64, &str> = approved.iter().map(|(id, r)| (*id, r.as_str())).collect();
    let declined: BTreeSet<i64> = declined
        .iter()
        .copied()
        .filter(|id| !approved.contains_key(id))
        .collect();
    let all_ids: Vec<i64> = approved.keys().chain(&declined).copied().collect();
    // Each order as it will be once this text has moved it.
    let after: Vec<orders::Model> = orders_of(db, &all_ids)
        .await?
        .into_iter()
        .map(|order| {
            if approved.contains_key(&order.id) {
                moved_to(order, OrderStatus::Paid, None, now)
            } else {
                moved_to(
                    order,
                    OrderStatus::Failed,
                    Some(FailureReason::PaymentDeclined),
                    now,
                )
            }
        })
        .collect();
    let kpi_rows = kpi_rows(after.iter().map(|order| {
        let kind = if order.status == OrderStatus::Paid {
            KpiKind::OrderPaid
        } else {
            KpiKind::OrderFailed
        };
        (kind, order)
    }));
    let events: Vec<(&str, &orders::Model)> =
        after.iter().map(|o| (o.status.as_str(), o)).collect();
    let notification_rows = notification_rows(&events, customers, email_enabled)?;
    let payments = serde_json::Value::from_iter(
        approved
            .iter()
            .map(|(id, reference)| serde_json::json!([id, reference])),
    )
    .to_string();
    let approved_json = serde_json::Value::from_iter(approved.keys().copied()).to_string();
    let declined_json = serde_json::Value::from_iter(declined.iter().copied()).to_string();
    let reserved = Value::from(OrderStatus::Reserved.as_str());
    let values = vec![
        // Stock back.
        now.naive_utc().into(),
        declined_json.clone().into(),
        reserved.clone(),
        // Payments.
        provider.into(),
        PaymentStatus::Captured.as_str().into(),
        payments.into(),
        reserved.clone(),
        // KPI events.
        kpi_rows.into(),
        reserved.clone(),
        // Notifications, and those to push.
        NotificationStatus::Queued.as_str().into(),
        now.naive_utc().into(),
        now.naive_utc().into(),
        notification_rows.clone().into(),
        reserved.clone(),
        notification_rows.into(),
        reserved.clone(),
        NotificationStatus::Queued.as_str().into(),
        // Paid.
        OrderStatus::Paid.as_str().into(),
        now.into(),
        now.into(),
        now.naive_utc().into(),
        approved_json.into(),
        reserved.clone(),
        // Failed.
        OrderStatus::Failed.as_str().into(),
        FailureReason::PaymentDeclined.as_str().into(),
        now.into(),
        now.naive_utc().into(),
        declined_json.into(),
        reserved,
    ];
    let rows = run_transaction_text(db, Dialect::Sqlite.statement(FINALIZE, values)).await?;
    let (mut paid, mut notifications) = (HashSet::new(), Vec::new());
    // Rows of two statements, told apart by their column's name.
    for row in &rows {
        let id = id_of(row)?;
        let column = sea_orm::sqlx::Row::columns(row).first();
        if column.is_some_and(|c| sea_orm::sqlx::Column::name(c) == "paid") {
            paid.insert(id);
        } else {
            notifications.push(id);
        }
    }
    // `after` is in id order.
    let paid = after.into_iter().filter(|o| paid.contains(&o.id)).collect();
    Ok((paid, notifications))
}

/// The text of [`finalize`]. Every write before the two updates at its end
/// is for orders still `reserved`: those the updates move (see the module's
/// doc). `UPDATE … FROM` sums the declined orders' items per product, read
/// through the orders' ids, not through every item of the product.
const FINALIZE: &str = concat!(
    "BEGIN IMMEDIATE;
UPDATE products SET stock = products.stock + back.qty, updated_at = ? \
FROM (SELECT i.product_id AS id, SUM(i.qty) AS qty \
FROM json_each(?) AS d JOIN orders AS o ON o.id = d.value \
JOIN order_items AS i ON i.order_id = o.id WHERE o.status = ? GROUP BY i.product_id) AS back \
WHERE products.id = back.id;
INSERT INTO payments (order_id, amount_cents, currency, provider, provider_ref, status) \
SELECT o.id, o.total_cents, o.currency, ?, a.value ->> 1, ? \
FROM json_each(?) AS a JOIN orders AS o ON o.id = a.value ->> 0 WHERE o.status = ?;
",
    terminal_rows!(),
    "SELECT n.id AS notification FROM json_each(?) AS e JOIN orders AS o ON o.id = e.value ->> 0 \
JOIN order_notifications AS n ON n.order_id = o.id AND n.event = e.value ->> 1 \
WHERE o.status = ? AND n.status = ? ORDER BY n.id;
UPDATE orders SET status = ?, paid_at = ?, finished_at = ?, updated_at = ? \
WHERE id IN (SELECT value FROM json_each(?)) AND status = ? RETURNING id AS paid;
UPDATE orders SET status = ?, failure_reason = ?, finished_at = ?, updated_at = ? \
WHERE id IN (SELECT value FROM json_each(?)) AND status = ?;
COMMIT"
);

/// The orders of `ids` still `pending`, as committed, in id order: the
/// reservation's plan (read outside the write lock, which is why
/// [`reserve`] checks them again).
pub(super) async fn pending_of(
    db: &DatabaseConnection,
    ids: &[i64],
) -> Result<Vec<orders::Model>, DbErr> {
    let mut orders = orders_of(db, ids).await?;
    orders.retain(|o| o.status == OrderStatus::Pending);
    Ok(orders)
}

/// `pending → reserved` for every order of `pending` and their items, summed
/// by product in `taken`, out of stock; returns those orders, or `None` when
/// it wrote nothing: some order was no longer pending, or some product's stock
/// no longer covered its share of `taken`.
///
/// # Errors
/// Database errors (nothing is changed).
pub(super) async fn reserve(
    db: &DatabaseConnection,
    pending: Vec<orders::Model>,
    taken: &BTreeMap<i64, i64>,
) -> Result<Option<Vec<orders::Model>>, DbErr> {
    if pending.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let now = chrono::Utc::now().naive_utc();
    let ids_json = serde_json::Value::from_iter(pending.iter().map(|o| o.id)).to_string();
    let taken_json =
        serde_json::Value::from_iter(taken.iter().map(|(p, q)| serde_json::json!([p, q])))
            .to_string();
    let count = i64::try_from(pending.len()).map_err(|e| DbErr::Custom(e.to_string()))?;
    let pending_status = Value::from(OrderStatus::Pending.as_str());
    let values = vec![
        // The orders, if the guard holds.
        OrderStatus::Reserved.as_str().into(),
        now.into(),
        ids_json.clone().into(),
        pending_status.clone(),
        ids_json.into(),
        pending_status,
        count.into(),
        taken_json.clone().into(),
        // Their stock, if they all moved.
        now.into(),
        taken_json.into(),
        count.into(),
    ];
    // One row per order moved.
    let moved = run_transaction_text(db, Dialect::Sqlite.statement(RESERVE, values))
        .await?
        .len();
    if moved == 0 {
        return Ok(None);
    }
    if moved != pending.len() {
        // The guard read every one of them pending under the lock it holds.
        return Err(DbErr::Custom(format!(
            "the reservation text moved {moved} of {} orders",
            pending.len()
        )));
    }
    Ok(Some(
        pending
            .into_iter()
            .map(|order| orders::Model {
                status: OrderStatus::Reserved,
                updated_at: now,
                ..order
            })
            .collect(),
    ))
}

/// The text of [`reserve`]. The guard's two subqueries do not depend on the
/// row, so SQLite reads them once, before the update moves any order.
/// `changes()` in the second statement is the number of orders the first one
/// moved (a statement's count is set when it completes).
const RESERVE: &str = "BEGIN IMMEDIATE;
UPDATE orders SET status = ?, updated_at = ? \
WHERE id IN (SELECT value FROM json_each(?)) AND status = ? \
AND (SELECT COUNT(*) FROM orders WHERE id IN (SELECT value FROM json_each(?)) AND status = ?) = ? \
AND NOT EXISTS (SELECT 1 FROM json_each(?) AS t LEFT JOIN products AS p ON p.id = t.value ->> 0 \
WHERE p.id IS NULL OR p.stock < t.value ->> 1) \
RETURNING id;
UPDATE products SET stock = products.stock - (t.value ->> 1), updated_at = ? \
FROM json_each(?) AS t WHERE products.id = t.value ->> 0 AND changes() = ?;
COMMIT";

/// `order` as a text leaves it once moved to the terminal `status` at `now`:
/// finished then (and paid then, when paid), with `reason` when it failed.
fn moved_to(
    order: orders::Model,
    status: OrderStatus,
    reason: Option<FailureReason>,
    now: chrono::DateTime<chrono::Utc>,
) -> orders::Model {
    orders::Model {
        status,
        failure_reason: reason.or(order.failure_reason),
        paid_at: if status == OrderStatus::Paid {
            Some(now.into())
        } else {
            order.paid_at
        },
        finished_at: Some(now.into()),
        updated_at: now.naive_utc(),
        ..order
    }
}

/// The orders `ids`, as committed (read outside the write lock: what the
/// texts take from them never changes).
async fn orders_of(db: &DatabaseConnection, ids: &[i64]) -> Result<Vec<orders::Model>, DbErr> {
    orders::Entity::find()
        .filter(id_in(
            db.get_database_backend(),
            orders::Column::Id,
            ids.iter().copied(),
        ))
        .order_by_asc(orders::Column::Id)
        .all(db)
        .await
}

/// KPI event rows as JSON arrays, in the texts' column order.
fn kpi_rows<'a>(events: impl Iterator<Item = (KpiKind, &'a orders::Model)>) -> String {
    serde_json::Value::from_iter(events.map(|(kind, order)| {
        let event = OrderEvent::of(kind, order);
        serde_json::json!([
            event.event_key,
            event.kind.as_str(),
            event.order_id,
            event.customer_id,
            event.day,
            event.revenue_delta_cents,
        ])
    }))
    .to_string()
}

/// Notification rows (`order_id, event, channel, payload`) as JSON arrays.
fn notification_rows(
    events: &[(&str, &orders::Model)],
    customers: &HashMap<i64, customers::Model>,
    email_enabled: bool,
) -> Result<String, DbErr> {
    Ok(serde_json::Value::from_iter(
        Queued::of_many(events, customers, email_enabled)?
            .into_iter()
            .map(|q| serde_json::json!([q.order_id, q.event, q.channel, q.payload])),
    )
    .to_string())
}

/// The id a row of a text returned (every row the texts return is one id).
fn id_of(row: &sea_orm::sqlx::sqlite::SqliteRow) -> Result<i64, DbErr> {
    sea_orm::sqlx::Row::try_get::<i64, _>(row, 0).map_err(|e| DbErr::Type(format!("id: {e}")))
}

#[cfg(test)]
mod tests;
