//! The KPI outbox: every figure-changing event is committed with the transition
//! that causes it, then applied to Redis exactly once (the KPI issue).
use sea_orm::{
    sea_query::ArrayType, ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, Statement,
};

pub use super::_entities::kpi_events::{ActiveModel, Entity, Model};
use super::{
    _entities::{orders, refunds},
    sql::Dialect,
};

/// What happened, as stored in `kpi_events.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KpiKind {
    OrderPaid,
    OrderFailed,
    /// Revenue down by the refunded amount on the day it is processed;
    /// `order_count` is never touched by a refund.
    RefundProcessed,
}

impl KpiKind {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OrderPaid => "order_paid",
            Self::OrderFailed => "order_failed",
            Self::RefundProcessed => "refund_processed",
        }
    }
}

/// The day an order counts on: the day it was placed, or (no placed_at in the
/// file) the day it was paid, or failing both, today. UTC.
#[must_use]
pub fn order_day(order: &orders::Model) -> String {
    order
        .placed_at
        .map(|t| t.with_timezone(&chrono::Utc))
        .or_else(|| order.paid_at.map(|t| t.with_timezone(&chrono::Utc)))
        .unwrap_or_else(chrono::Utc::now)
        .format("%Y-%m-%d")
        .to_string()
}

/// The statement that records paid or failed orders, each once (the event key
/// is unique): `events` pairs each order with what happened to it, so a batch
/// that paid some orders and failed others writes them together. The caller
/// runs it in its transaction (the workflow sends it in one round trip with the
/// notification rows, see `order_notifications::queue_many`).
#[must_use]
pub fn record_orders<C: ConnectionTrait>(
    db: &C,
    events: &[(KpiKind, &orders::Model)],
) -> Statement {
    let revenue = |kind: KpiKind, order: &orders::Model| match kind {
        KpiKind::OrderPaid => order.total_cents,
        KpiKind::OrderFailed | KpiKind::RefundProcessed => 0,
    };
    // One array per column on PostgreSQL (see `models::sql`).
    Dialect::of(db).insert_rows(
        "kpi_events",
        &[
            ("event_key", "text", ArrayType::String),
            ("kind", "text", ArrayType::String),
            ("order_id", "int8", ArrayType::BigInt),
            ("customer_id", "int8", ArrayType::BigInt),
            ("day", "text", ArrayType::String),
            ("revenue_delta_cents", "int8", ArrayType::BigInt),
        ],
        "ON CONFLICT (event_key) DO NOTHING",
        events.iter().map(|&(kind, o)| {
            [
                format!("{}:{}", kind.as_str(), o.id).into(),
                kind.as_str().into(),
                o.id.into(),
                o.customer_id.into(),
                order_day(o).into(),
                revenue(kind, o).into(),
            ]
        }),
    )
}

/// Records a processed refund, once (`refund_processed:{refund_id}`): revenue
/// goes down by the amount on `day`, the UTC day the refund was processed.
///
/// # Errors
/// Database errors.
pub async fn record_refund<C: ConnectionTrait>(
    db: &C,
    refund: &refunds::Model,
    order: &orders::Model,
    day: chrono::NaiveDate,
) -> Result<(), DbErr> {
    let kind = KpiKind::RefundProcessed;
    let event = ActiveModel {
        event_key: Set(format!("{}:{}", kind.as_str(), refund.id)),
        kind: Set(kind.as_str().to_string()),
        order_id: Set(order.id),
        refund_id: Set(Some(refund.id)),
        customer_id: Set(order.customer_id),
        day: Set(day.format("%Y-%m-%d").to_string()),
        revenue_delta_cents: Set(-refund.amount_cents),
        applied_at: Set(None),
        ..Default::default()
    };
    Entity::insert(event)
        .on_conflict_do_nothing_on([super::_entities::kpi_events::Column::EventKey])
        .exec(db)
        .await?;
    Ok(())
}

impl sea_orm::ActiveModelBehavior for ActiveModel {}
