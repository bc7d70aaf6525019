//! The steps both batch transitions are made of: lock and read stock, move
//! orders with a guarded update, move stock, record terminal orders. Apart
//! from `mod.rs`, which re-exports the transitions, so that they import
//! these steps without importing each other's parent.
use std::collections::{BTreeMap, HashMap};

use sea_orm::{
    sea_query::{Expr, LockType, Query},
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::models::{
    _entities::{customers, order_items, orders, products},
    kpi_events::{self, KpiKind},
    order_notifications,
    sql::{id_in, Dialect},
    statuses::OrderStatus,
};

/// Items of many orders: order id → (product id → quantity), products ascending.
pub(super) async fn lines_of<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
) -> Result<HashMap<i64, BTreeMap<i64, i64>>, DbErr> {
    let rows: Vec<(i64, i64, i64)> = order_items::Entity::find()
        .select_only()
        .column(order_items::Column::OrderId)
        .column(order_items::Column::ProductId)
        .column(order_items::Column::Qty)
        .filter(id_in(
            db.get_database_backend(),
            order_items::Column::OrderId,
            ids.iter().copied(),
        ))
        .into_tuple()
        .all(db)
        .await?;
    let mut lines: HashMap<i64, BTreeMap<i64, i64>> = HashMap::new();
    for (order, product, qty) in rows {
        *lines.entry(order).or_default().entry(product).or_insert(0) += qty;
    }
    Ok(lines)
}

/// The items of the orders `ids`, summed by product (`lines` as from
/// [`lines_of`]): the stock a reservation takes, or a decline gives back.
pub(super) fn items_by_product(
    ids: &[i64],
    lines: &HashMap<i64, BTreeMap<i64, i64>>,
) -> BTreeMap<i64, i64> {
    let mut sum: BTreeMap<i64, i64> = BTreeMap::new();
    for (p, q) in ids.iter().filter_map(|id| lines.get(id)).flatten() {
        *sum.entry(*p).or_default() += q;
    }
    sum
}

/// The customers of the orders `order_ids`: customer id → customer.
///
/// Read before a write transaction, not inside it: an order's customer never
/// changes, and on SQLite every statement inside costs the one write lock that
/// all writers share (measured in session 17: held 83 % of the time, a third
/// of each hold spent between statements). A notification addresses the
/// customer as read here, a moment before the order moved.
pub(super) async fn customers_of<C: ConnectionTrait>(
    db: &C,
    order_ids: &[i64],
) -> Result<HashMap<i64, customers::Model>, DbErr> {
    if order_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let of_orders = Query::select()
        .column(orders::Column::CustomerId)
        .from(orders::Entity)
        .and_where(id_in(
            db.get_database_backend(),
            orders::Column::Id,
            order_ids.iter().copied(),
        ))
        .to_owned();
    Ok(customers::Entity::find()
        .filter(customers::Column::Id.in_subquery(of_orders))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect())
}

/// Moves `ids` from `from` to `to`; returns the orders this call moved.
pub(super) async fn guard_many(
    txn: &DatabaseTransaction,
    ids: &[i64],
    from: OrderStatus,
    to: OrderStatus,
    extra: impl FnOnce(sea_orm::UpdateMany<orders::Entity>) -> sea_orm::UpdateMany<orders::Entity>,
) -> Result<Vec<orders::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let update = orders::Entity::update_many()
        .col_expr(orders::Column::Status, Expr::value(to))
        .col_expr(
            orders::Column::UpdatedAt,
            Expr::value(chrono::Utc::now().naive_utc()),
        )
        .filter(id_in(
            txn.get_database_backend(),
            orders::Column::Id,
            ids.iter().copied(),
        ))
        .filter(orders::Column::Status.eq(from));
    extra(update).exec_with_returning(txn).await
}

/// Adds `sign × qty` units to each product of `per_product`, in one statement
/// (`UNNEST` of ids and deltas; a `CASE` on SQLite): one round trip however many products, while
/// the batch holds their locks. Taking more than is there breaks the stock
/// CHECK and fails the transaction (it cannot happen under the row locks taken
/// by [`super::reserve_many`]).
pub(super) async fn move_stock(
    txn: &DatabaseTransaction,
    per_product: &BTreeMap<i64, i64>,
    sign: i64,
) -> Result<(), DbErr> {
    let moves: Vec<(i64, i64)> = per_product
        .iter()
        .filter(|(_, &qty)| qty != 0)
        .map(|(&product, &qty)| (product, sign * qty))
        .collect();
    if moves.is_empty() {
        return Ok(());
    }
    let now = chrono::Utc::now().naive_utc();
    let updated = txn
        .execute_raw(Dialect::of(txn).add_by_id("products", "stock", &moves, now))
        .await?
        .rows_affected();
    if updated != moves.len() as u64 {
        return Err(DbErr::Custom(format!(
            "stock update touched {} of {} products",
            updated,
            moves.len()
        )));
    }
    Ok(())
}

/// Locks `ids` in ascending id order and returns their stock. Every writer of
/// stock locks this way before it updates, where rows are locked at all
/// ([`Dialect::locks_rows`]; on SQLite the lock clause is dropped and this is a
/// plain read of the stock): an `UPDATE … WHERE id IN (…)` alone locks rows in the order it
/// finds them, and measured, that deadlocked with the reservations (35
/// `deadlock detected` in a few runs, each a 1 s wait and a failed batch).
/// FOR NO KEY UPDATE, not FOR UPDATE: only stock changes, and FOR UPDATE would
/// conflict with the FOR KEY SHARE locks that a foreign key to products takes,
/// in any product order: measured, 2,124 deadlocks in a 100,000-order run while
/// order items had one (SQLite still has it; migration 6 dropped it on
/// PostgreSQL).
pub(super) async fn lock_products(
    txn: &DatabaseTransaction,
    ids: impl IntoIterator<Item = i64>,
) -> Result<BTreeMap<i64, i64>, DbErr> {
    Ok(stock_of(txn.get_database_backend(), ids)
        .order_by_asc(products::Column::Id)
        .lock(LockType::NoKeyUpdate)
        .into_tuple::<(i64, i64)>()
        .all(txn)
        .await?
        .into_iter()
        .collect())
}

/// `(id, stock)` of the products `ids`.
pub(super) fn stock_of(
    backend: sea_orm::DbBackend,
    ids: impl IntoIterator<Item = i64>,
) -> sea_orm::Select<products::Entity> {
    products::Entity::find()
        .select_only()
        .column(products::Column::Id)
        .column(products::Column::Stock)
        .filter(id_in(backend, products::Column::Id, ids))
}

/// What a batch transaction did.
#[derive(Debug, Default)]
pub struct Moved {
    /// Orders now `reserved` (or `paid`), for the next step.
    pub orders: Vec<orders::Model>,
    /// Notifications to push once committed.
    pub notifications: Vec<i64>,
}

/// KPI events and notifications of orders that just became terminal, in one
/// statement each and one round trip on SQLite: every order with the KPI event
/// it causes and the status it reached (whose word is the notification's
/// event). `customers` holds their customers ([`customers_of`]).
pub(super) async fn record_terminal(
    txn: &DatabaseTransaction,
    reached: &[(&orders::Model, KpiKind, OrderStatus)],
    customers: &HashMap<i64, customers::Model>,
    email_enabled: bool,
) -> Result<Vec<i64>, DbErr> {
    if reached.is_empty() {
        return Ok(Vec::new());
    }
    let kpi: Vec<(KpiKind, &orders::Model)> =
        reached.iter().map(|&(o, kind, _)| (kind, o)).collect();
    let kpi = kpi_events::record_orders(txn, &kpi);
    let events: Vec<(&str, &orders::Model)> = reached
        .iter()
        .map(|&(o, _, status)| (status.as_str(), o))
        .collect();
    order_notifications::queue_many(txn, &events, customers, email_enabled, Some(kpi)).await
}

/// `orders`, each paired with the same KPI event and status, for [`record_terminal`].
pub(super) fn all_reached(
    orders: &[orders::Model],
    kind: KpiKind,
    status: OrderStatus,
) -> impl Iterator<Item = (&orders::Model, KpiKind, OrderStatus)> {
    orders.iter().map(move |o| (o, kind, status))
}
