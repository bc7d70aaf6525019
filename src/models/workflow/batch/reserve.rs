//! `pending → reserved`, or `→ failed (out_of_stock)`, for a batch of orders.
use std::collections::{BTreeMap, HashMap};

use sea_orm::{
    sea_query::Expr, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::{
    one_text,
    steps::{
        all_reached, customers_of, guard_many, items_by_product, lines_of, lock_products,
        move_stock, record_terminal, stock_of, Moved,
    },
};
use crate::models::{
    _entities::{customers, orders},
    kpi_events::KpiKind,
    sql::{id_in, Dialect},
    statuses::{FailureReason, OrderStatus},
};

/// `pending → reserved` for every order of `ids` whose stock is all there;
/// the others `pending → failed (out_of_stock)`.
///
/// Orders that need more of a product than it has at all (read without a
/// lock) fail in a transaction of their own that locks no product. Once stock
/// runs out that is most orders of a large import, and their KPI events and
/// notifications no longer hold the product locks every reservation waits for
/// (measured: 60 s of lock waits in a 1,000,000-order run). A stock read without
/// a lock is the last committed one: an order failed on it was short then.
/// On SQLite that transaction goes as one text (`one_text.rs`): most orders
/// take it, and there it holds the one write lock all writers share.
///
/// On SQLite the reservation goes as one text too, when the same stock read
/// lets every pending order of the rest fit: then the decision made under the
/// lock would be the same (each order, in id order, fits), as long as the stock
/// still covers them all and they are all still pending when the text runs.
/// The text checks exactly that and writes nothing otherwise; then, and when
/// some order would not fit, the reservation goes step by step as below.
///
/// The rest are reserved under the product locks: products are locked first,
/// then the orders still pending are read and each moved once (a shortage used
/// to be two updates of the order, reserved then failed). Reading the statuses
/// under the product locks is safe: any other reservation of these orders must
/// lock the same products first. An order with no items takes no locks, and
/// its guarded update still lets only one transaction move it.
///
/// # Errors
/// Database errors. Each of the two transactions is all or nothing; a caller
/// that retries finds the sold-out orders already failed.
pub async fn reserve_many(
    db: &DatabaseConnection,
    ids: &[i64],
    email_enabled: bool,
) -> Result<Moved, DbErr> {
    if ids.is_empty() {
        return Ok(Moved::default());
    }
    // An order's items never change: read without locks.
    let lines = lines_of(db, ids).await?;
    let (sold_out, rest, stock) = split_sold_out(db, ids, &lines).await?;
    let mut notifications = Vec::new();
    if !sold_out.is_empty() {
        let customers = customers_of(db, &sold_out).await?;
        notifications = if Dialect::of(db).runs_transaction_texts() {
            one_text::fail_short(db, &sold_out, &customers, email_enabled).await?
        } else {
            let txn = crate::models::write_txn::begin_write(db).await?;
            let queued = fail_short(&txn, &sold_out, &customers, email_enabled).await?;
            txn.commit().await?;
            queued
        };
    }
    if rest.is_empty() {
        return Ok(Moved {
            orders: Vec::new(),
            notifications,
        });
    }
    let reserved = if Dialect::of(db).runs_transaction_texts() {
        reserve_as_text(db, &rest, &lines, stock).await?
    } else {
        None
    };
    let mut moved = match reserved {
        Some(orders) => Moved {
            orders,
            notifications: Vec::new(),
        },
        None => {
            let txn = crate::models::write_txn::begin_write(db).await?;
            let moved = reserve_locked(&txn, &rest, &lines, email_enabled).await?;
            txn.commit().await?;
            moved
        }
    };
    moved.notifications.extend(notifications);
    Ok(moved)
}

/// The reservation as one text (see [`reserve_many`]), planned on `stock`,
/// read before the write lock: the orders reserved, or `None` when some
/// pending order would not fit, or when the stock or the statuses changed
/// before the text ran (it wrote nothing then).
async fn reserve_as_text(
    db: &DatabaseConnection,
    ids: &[i64],
    lines: &HashMap<i64, BTreeMap<i64, i64>>,
    mut stock: BTreeMap<i64, i64>,
) -> Result<Option<Vec<orders::Model>>, DbErr> {
    let pending = one_text::pending_of(db, ids).await?;
    let pending_ids: Vec<i64> = pending.iter().map(|o| o.id).collect();
    let (fits, short) = allot(&pending_ids, lines, &mut stock);
    if !short.is_empty() {
        return Ok(None);
    }
    one_text::reserve(db, pending, &items_by_product(&fits, lines)).await
}

/// Splits `ids` into the orders that need more of some product than its
/// committed stock, and the rest; with that stock, by product.
async fn split_sold_out(
    db: &DatabaseConnection,
    ids: &[i64],
    lines: &HashMap<i64, BTreeMap<i64, i64>>,
) -> Result<(Vec<i64>, Vec<i64>, BTreeMap<i64, i64>), DbErr> {
    let product_ids: std::collections::BTreeSet<i64> =
        lines.values().flat_map(|l| l.keys().copied()).collect();
    let stock: BTreeMap<i64, i64> = stock_of(db.get_database_backend(), product_ids)
        .into_tuple::<(i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let (sold_out, rest) = ids.iter().copied().partition(|id| {
        lines
            .get(id)
            .is_some_and(|want| want.iter().any(|(p, q)| stock.get(p).is_none_or(|s| s < q)))
    });
    Ok((sold_out, rest, stock))
}

/// Splits `pending` (ascending ids) into the orders that fit in `left` and
/// those that do not, each order in turn taking its items from `left`: the
/// reservation's one rule, under the lock or planned before it.
fn allot(
    pending: &[i64],
    lines: &HashMap<i64, BTreeMap<i64, i64>>,
    left: &mut BTreeMap<i64, i64>,
) -> (Vec<i64>, Vec<i64>) {
    let no_lines = BTreeMap::new();
    let (mut fits, mut short) = (Vec::new(), Vec::new());
    for &id in pending {
        let want = lines.get(&id).unwrap_or(&no_lines);
        if want
            .iter()
            .all(|(p, q)| left.get(p).is_some_and(|s| s >= q))
        {
            for (p, q) in want {
                *left.entry(*p).or_default() -= q;
            }
            fits.push(id);
        } else {
            short.push(id);
        }
    }
    (fits, short)
}

/// `pending → failed (out_of_stock)` for `ids`, with their KPI events and
/// notifications; returns the notifications to push. `customers` holds the
/// orders' customers.
async fn fail_short(
    txn: &DatabaseTransaction,
    ids: &[i64],
    customers: &HashMap<i64, customers::Model>,
    email_enabled: bool,
) -> Result<Vec<i64>, DbErr> {
    let failed = guard_many(txn, ids, OrderStatus::Pending, OrderStatus::Failed, |u| {
        u.col_expr(
            orders::Column::FailureReason,
            Expr::value(FailureReason::OutOfStock),
        )
        .col_expr(orders::Column::FinishedAt, Expr::value(chrono::Utc::now()))
    })
    .await?;
    let reached: Vec<_> = all_reached(&failed, KpiKind::OrderFailed, OrderStatus::Failed).collect();
    record_terminal(txn, &reached, customers, email_enabled).await
}

/// The reservation proper, under the product locks (see [`reserve_many`]).
async fn reserve_locked(
    txn: &DatabaseTransaction,
    ids: &[i64],
    lines: &HashMap<i64, BTreeMap<i64, i64>>,
    email_enabled: bool,
) -> Result<Moved, DbErr> {
    let product_ids: std::collections::BTreeSet<i64> = ids
        .iter()
        .filter_map(|id| lines.get(id))
        .flat_map(|l| l.keys().copied())
        .collect();
    let mut left = lock_products(txn, product_ids).await?;
    let pending: Vec<i64> = orders::Entity::find()
        .select_only()
        .column(orders::Column::Id)
        .filter(id_in(
            txn.get_database_backend(),
            orders::Column::Id,
            ids.iter().copied(),
        ))
        .filter(orders::Column::Status.eq(OrderStatus::Pending))
        .order_by_asc(orders::Column::Id)
        .into_tuple()
        .all(txn)
        .await?;
    let (fits, short) = allot(&pending, lines, &mut left);
    let mut reserved = guard_many(
        txn,
        &fits,
        OrderStatus::Pending,
        OrderStatus::Reserved,
        |u| u,
    )
    .await?;
    reserved.sort_by_key(|o| o.id);
    // Only the stock of orders this transaction moved.
    let moved: Vec<i64> = reserved.iter().map(|o| o.id).collect();
    move_stock(txn, &items_by_product(&moved, lines), -1).await?;
    // Rare (stock ran out within the batch): read under the lock, the only
    // time this transaction needs the customers.
    let customers = customers_of(txn, &short).await?;
    let notifications = fail_short(txn, &short, &customers, email_enabled).await?;
    Ok(Moved {
        orders: reserved,
        notifications,
    })
}
