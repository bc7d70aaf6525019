//! The refund's transitions: `pending → processed` or `pending → failed`.
//! Each runs in one transaction that starts with `UPDATE refunds … WHERE id = ?
//! AND status = 'pending'`: when that matches nothing, another run already made
//! the move and this one changes nothing at all.
use sea_orm::{
    sea_query::{Expr, ExprTrait},
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, TransactionTrait,
};

use crate::models::{
    _entities::{orders, refunds},
    kpi_events, order_notifications,
    statuses::{OrderStatus, RefundStatus},
};

/// What one transition did.
#[derive(Debug, PartialEq, Eq)]
pub enum Move {
    /// Made the move; the notification to send, if new.
    Done(Option<i64>),
    /// The refund was no longer pending: another run decided it.
    Lost,
    /// The order's figures refuse the move (rolled back; never expected).
    Inconsistent,
}

/// `pending → processed`: the order's refunded amount goes up, the order becomes
/// `partially_refunded` or (all of it refunded) `refunded`, revenue goes down.
///
/// # Errors
/// Database errors (the transaction is rolled back).
pub async fn complete(
    db: &DatabaseConnection,
    refund: &refunds::Model,
    email_enabled: bool,
) -> Result<Move, DbErr> {
    let now = chrono::Utc::now();
    let amount = refund.amount_cents;
    let txn = db.begin().await?;
    if !decide(&txn, refund.id, RefundStatus::Processed, None, now).await? {
        return Ok(Move::Lost);
    }
    let refunded = Expr::col(orders::Column::RefundedCents).add(amount);
    let updated = orders::Entity::update_many()
        .col_expr(orders::Column::RefundedCents, refunded.clone())
        .col_expr(
            orders::Column::Status,
            Expr::case(
                refunded.clone().eq(Expr::col(orders::Column::TotalCents)),
                OrderStatus::Refunded.as_str(),
            )
            .finally(OrderStatus::PartiallyRefunded.as_str())
            .into(),
        )
        .col_expr(orders::Column::UpdatedAt, Expr::value(now.naive_utc()))
        .filter(orders::Column::Id.eq(refund.order_id))
        .filter(orders::Column::Status.is_in(OrderStatus::REFUNDABLE))
        .filter(refunded.lte(Expr::col(orders::Column::RefundReservedCents)))
        .exec(&txn)
        .await?;
    let Some(order) = moved_order(&txn, refund.order_id, updated.rows_affected).await? else {
        txn.rollback().await?;
        return Ok(Move::Inconsistent);
    };
    let processed = refunds::Model {
        status: RefundStatus::Processed,
        processed_at: Some(now.fixed_offset()),
        ..refund.clone()
    };
    kpi_events::record_refund(&txn, &processed, &order, now.date_naive()).await?;
    let notification = notify(&txn, &order, refund, "refund_processed", email_enabled).await?;
    txn.commit().await?;
    Ok(Move::Done(notification))
}

/// `pending → failed` (the gateway declined): the reserved amount is released,
/// the order keeps its status and revenue is untouched.
///
/// # Errors
/// Database errors (the transaction is rolled back).
pub async fn decline(
    db: &DatabaseConnection,
    refund: &refunds::Model,
    reason: &str,
    email_enabled: bool,
) -> Result<Move, DbErr> {
    let now = chrono::Utc::now();
    let amount = refund.amount_cents;
    let txn = db.begin().await?;
    if !decide(&txn, refund.id, RefundStatus::Failed, Some(reason), now).await? {
        return Ok(Move::Lost);
    }
    let released = Expr::col(orders::Column::RefundReservedCents).sub(amount);
    let updated = orders::Entity::update_many()
        .col_expr(orders::Column::RefundReservedCents, released.clone())
        .col_expr(orders::Column::UpdatedAt, Expr::value(now.naive_utc()))
        .filter(orders::Column::Id.eq(refund.order_id))
        .filter(released.gte(Expr::col(orders::Column::RefundedCents)))
        .exec(&txn)
        .await?;
    let Some(order) = moved_order(&txn, refund.order_id, updated.rows_affected).await? else {
        txn.rollback().await?;
        return Ok(Move::Inconsistent);
    };
    let notification = notify(&txn, &order, refund, reason, email_enabled).await?;
    txn.commit().await?;
    Ok(Move::Done(notification))
}

/// The notification event of a refund: one per refund, whatever its outcome.
#[must_use]
pub fn event(refund_id: i64) -> String {
    format!("refund:{refund_id}")
}

/// Queues the refund's one notification, with the refund's figures in its payload.
async fn notify<C: sea_orm::ConnectionTrait>(
    db: &C,
    order: &orders::Model,
    refund: &refunds::Model,
    reason: &str,
    email_enabled: bool,
) -> Result<Option<i64>, DbErr> {
    let id =
        order_notifications::queue_for(db, order, &event(refund.id), Some(reason), email_enabled)
            .await?;
    if let Some(id) = id {
        let details = serde_json::json!({
            "refund_id": refund.id,
            "refund_amount_cents": refund.amount_cents,
            "refunded_cents": order.refunded_cents,
        });
        order_notifications::add_details(db, id, details).await?;
    }
    Ok(id)
}

/// The guarded refund transition; true when this call made it.
async fn decide<C: sea_orm::ConnectionTrait>(
    db: &C,
    refund_id: i64,
    to: RefundStatus,
    failure_reason: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, DbErr> {
    let processed_at = (to == RefundStatus::Processed).then(|| now.fixed_offset());
    let updated = refunds::Entity::update_many()
        .col_expr(refunds::Column::Status, Expr::value(to))
        .col_expr(refunds::Column::FailureReason, Expr::value(failure_reason))
        .col_expr(refunds::Column::ProcessedAt, Expr::value(processed_at))
        .col_expr(refunds::Column::UpdatedAt, Expr::value(now.naive_utc()))
        .filter(refunds::Column::Id.eq(refund_id))
        .filter(refunds::Column::Status.eq(RefundStatus::Pending))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// The order as the transaction left it, when its update matched.
async fn moved_order<C: sea_orm::ConnectionTrait>(
    db: &C,
    order_id: i64,
    rows_affected: u64,
) -> Result<Option<orders::Model>, DbErr> {
    if rows_affected != 1 {
        return Ok(None);
    }
    orders::Entity::find_by_id(order_id).one(db).await
}
