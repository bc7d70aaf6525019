//! `reserved → paid` or `→ failed (payment_declined)` for a batch of orders.
use std::collections::HashMap;

use sea_orm::{
    sea_query::{ArrayType, Expr},
    ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait,
};

use super::one_text;
use super::steps::{
    all_reached, customers_of, guard_many, items_by_product, lines_of, lock_products, move_stock,
    record_terminal, Moved,
};
use crate::models::{
    _entities::orders,
    kpi_events::KpiKind,
    sql::Dialect,
    statuses::{FailureReason, OrderStatus, PaymentStatus},
};

/// `reserved → paid` for `approved` (with payment rows) and `reserved → failed
/// (payment_declined)` for `declined`, stock given back. One transaction.
///
/// What does not change is read before it: the orders' customers and the
/// declined orders' items (see [`customers_of`]). On SQLite the transaction
/// goes as one text (`one_text.rs`): there it holds the one write lock all
/// writers share.
///
/// # Errors
/// Database errors (nothing is changed).
pub async fn finalize_many(
    db: &DatabaseConnection,
    approved: &[(i64, String)],
    declined: &[i64],
    provider: &str,
    email_enabled: bool,
) -> Result<Moved, DbErr> {
    let now = chrono::Utc::now();
    let approved_ids: Vec<i64> = approved.iter().map(|(id, _)| *id).collect();
    let all_ids: Vec<i64> = approved_ids.iter().chain(declined).copied().collect();
    let customers = customers_of(db, &all_ids).await?;
    if Dialect::of(db).runs_transaction_texts() {
        let (orders, notifications) =
            one_text::finalize(db, approved, declined, provider, &customers, email_enabled).await?;
        return Ok(Moved {
            orders,
            notifications,
        });
    }
    let declined_lines = lines_of(db, declined).await?;
    let txn = db.begin().await?;
    let paid = guard_many(
        &txn,
        &approved_ids,
        OrderStatus::Reserved,
        OrderStatus::Paid,
        |u| {
            u.col_expr(orders::Column::PaidAt, Expr::value(now))
                .col_expr(orders::Column::FinishedAt, Expr::value(now))
        },
    )
    .await?;
    if !paid.is_empty() {
        let references: HashMap<i64, &String> = approved.iter().map(|(id, r)| (*id, r)).collect();
        // One array per column on PostgreSQL (see `models::sql`): an
        // `insert_many` was a new statement text for every batch size, and a
        // steady stream makes batches of every size from 1 to 256.
        let insert = Dialect::of(&txn).insert_rows(
            "payments",
            &[
                ("order_id", "int8", ArrayType::BigInt),
                ("amount_cents", "int8", ArrayType::BigInt),
                ("currency", "text", ArrayType::String),
                ("provider", "text", ArrayType::String),
                ("provider_ref", "text", ArrayType::String),
                ("status", "text", ArrayType::String),
            ],
            "",
            paid.iter().map(|o| {
                [
                    o.id.into(),
                    o.total_cents.into(),
                    o.currency.clone().into(),
                    provider.into(),
                    references
                        .get(&o.id)
                        .map_or_else(String::new, |r| (*r).clone())
                        .into(),
                    PaymentStatus::Captured.as_str().into(),
                ]
            }),
        );
        txn.execute_raw(insert).await?;
    }
    let failed = guard_many(
        &txn,
        declined,
        OrderStatus::Reserved,
        OrderStatus::Failed,
        |u| {
            u.col_expr(
                orders::Column::FailureReason,
                Expr::value(FailureReason::PaymentDeclined),
            )
            .col_expr(orders::Column::FinishedAt, Expr::value(now))
        },
    )
    .await?;
    // Only orders this transaction moved out of `reserved`: stock comes back once.
    let failed_ids: Vec<i64> = failed.iter().map(|o| o.id).collect();
    let restore = items_by_product(&failed_ids, &declined_lines);
    if !restore.is_empty() && Dialect::of(&txn).locks_rows() {
        lock_products(&txn, restore.keys().copied()).await?;
    }
    move_stock(&txn, &restore, 1).await?;
    let reached: Vec<_> = all_reached(&paid, KpiKind::OrderPaid, OrderStatus::Paid)
        .chain(all_reached(
            &failed,
            KpiKind::OrderFailed,
            OrderStatus::Failed,
        ))
        .collect();
    let notifications = record_terminal(&txn, &reached, &customers, email_enabled).await?;
    txn.commit().await?;
    Ok(Moved {
        orders: paid,
        notifications,
    })
}
