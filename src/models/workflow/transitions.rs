//! The workflow's guarded transitions. Each runs in one transaction and starts
//! with `UPDATE orders … WHERE id = ? AND status = ?`: when that matches no row,
//! another run already made the move and this one changes nothing at all.
use std::collections::BTreeMap;

use sea_orm::{
    sea_query::{Expr, ExprTrait},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect,
    TransactionTrait,
};

use crate::models::{
    _entities::{order_items, orders, payments, products},
    kpi_events::{self, KpiKind},
    order_notifications,
};

pub const PENDING: &str = "pending";
pub const RESERVED: &str = "reserved";
pub const PAID: &str = "paid";
pub const FAILED: &str = "failed";

/// Why an order failed, as stored in `failure_reason`.
pub const OUT_OF_STOCK: &str = "out_of_stock";
pub const PAYMENT_DECLINED: &str = "payment_declined";

/// Result of trying to reserve stock.
#[derive(Debug, PartialEq, Eq)]
pub enum Reservation {
    Reserved,
    OutOfStock,
    /// The order was no longer `pending`: someone else moved it.
    Lost,
}

/// Quantity per product, in ascending product id: the lock order every
/// transaction follows, so two orders never wait on each other in a cycle.
///
/// # Errors
/// Database errors.
pub async fn lines<C: ConnectionTrait>(db: &C, order_id: i64) -> Result<Vec<(i64, i64)>, DbErr> {
    let rows: Vec<(i64, i64)> = order_items::Entity::find()
        .select_only()
        .column(order_items::Column::ProductId)
        .column(order_items::Column::Qty)
        .filter(order_items::Column::OrderId.eq(order_id))
        .into_tuple()
        .all(db)
        .await?;
    let mut per_product = BTreeMap::new();
    for (product, qty) in rows {
        *per_product.entry(product).or_insert(0) += qty;
    }
    Ok(per_product.into_iter().collect())
}

/// Moves `order` from `from` to `to` (plus extra columns); true when this call made the move.
async fn guard<C: ConnectionTrait>(
    db: &C,
    order_id: i64,
    from: &str,
    to: &str,
    extra: impl FnOnce(sea_orm::UpdateMany<orders::Entity>) -> sea_orm::UpdateMany<orders::Entity>,
) -> Result<bool, DbErr> {
    let update = orders::Entity::update_many()
        .col_expr(orders::Column::Status, Expr::value(to))
        .col_expr(
            orders::Column::UpdatedAt,
            Expr::value(chrono::Utc::now().naive_utc()),
        )
        .filter(orders::Column::Id.eq(order_id))
        .filter(orders::Column::Status.eq(from));
    Ok(extra(update).exec(db).await?.rows_affected == 1)
}

/// `pending → reserved`, taking every item's stock, all or nothing.
///
/// # Errors
/// Database errors (the transaction is rolled back).
pub async fn reserve(db: &DatabaseConnection, order_id: i64) -> Result<Reservation, DbErr> {
    let txn = db.begin().await?;
    if !guard(&txn, order_id, PENDING, RESERVED, |u| u).await? {
        return Ok(Reservation::Lost);
    }
    for (product_id, qty) in lines(&txn, order_id).await? {
        // `stock >= qty` in the WHERE makes a shortage a no-op, not a CHECK error.
        let taken = products::Entity::update_many()
            .col_expr(
                products::Column::Stock,
                Expr::col(products::Column::Stock).sub(qty),
            )
            .col_expr(
                products::Column::UpdatedAt,
                Expr::value(chrono::Utc::now().naive_utc()),
            )
            .filter(products::Column::Id.eq(product_id))
            .filter(products::Column::Stock.gte(qty))
            .exec(&txn)
            .await?;
        if taken.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(Reservation::OutOfStock);
        }
    }
    txn.commit().await?;
    Ok(Reservation::Reserved)
}

/// `from → failed` with `reason`; gives reserved stock back when `from` is `reserved`.
/// Returns the notification to send, if this call made the move.
///
/// # Errors
/// Database errors.
pub async fn fail(
    db: &DatabaseConnection,
    order: &orders::Model,
    from: &str,
    reason: &str,
    email_enabled: bool,
) -> Result<Option<i64>, DbErr> {
    let txn = db.begin().await?;
    let moved = guard(&txn, order.id, from, FAILED, |u| {
        u.col_expr(orders::Column::FailureReason, Expr::value(reason))
            .col_expr(orders::Column::FinishedAt, Expr::value(chrono::Utc::now()))
    })
    .await?;
    if !moved {
        return Ok(None);
    }
    if from == RESERVED {
        // Guarded by the status change above: stock goes back exactly once.
        for (product_id, qty) in lines(&txn, order.id).await? {
            products::Entity::update_many()
                .col_expr(
                    products::Column::Stock,
                    Expr::col(products::Column::Stock).add(qty),
                )
                .col_expr(
                    products::Column::UpdatedAt,
                    Expr::value(chrono::Utc::now().naive_utc()),
                )
                .filter(products::Column::Id.eq(product_id))
                .exec(&txn)
                .await?;
        }
    }
    let failed = orders::Model {
        status: FAILED.to_string(),
        failure_reason: Some(reason.to_string()),
        ..order.clone()
    };
    kpi_events::record_order(&txn, KpiKind::OrderFailed, &failed).await?;
    let notification =
        order_notifications::queue_for(&txn, &failed, FAILED, Some(reason), email_enabled).await?;
    txn.commit().await?;
    Ok(notification)
}

/// `reserved → paid` with its payment row. Returns the notification to send.
///
/// # Errors
/// Database errors.
pub async fn mark_paid(
    db: &DatabaseConnection,
    order: &orders::Model,
    provider: &str,
    reference: &str,
    email_enabled: bool,
) -> Result<Option<i64>, DbErr> {
    let now = chrono::Utc::now();
    let txn = db.begin().await?;
    let moved = guard(&txn, order.id, RESERVED, PAID, |u| {
        u.col_expr(orders::Column::PaidAt, Expr::value(now))
            .col_expr(orders::Column::FinishedAt, Expr::value(now))
    })
    .await?;
    if !moved {
        return Ok(None);
    }
    let payment = payments::ActiveModel {
        order_id: Set(order.id),
        amount_cents: Set(order.total_cents),
        currency: Set(order.currency.clone()),
        provider: Set(provider.to_string()),
        provider_ref: Set(reference.to_string()),
        status: Set("captured".to_string()),
        ..Default::default()
    };
    // The unique order_id makes a second payment row impossible.
    payments::Entity::insert(payment).exec(&txn).await?;
    let paid = orders::Model {
        status: PAID.to_string(),
        paid_at: Some(now.into()),
        ..order.clone()
    };
    kpi_events::record_order(&txn, KpiKind::OrderPaid, &paid).await?;
    let notification =
        order_notifications::queue_for(&txn, &paid, PAID, None, email_enabled).await?;
    txn.commit().await?;
    Ok(notification)
}
