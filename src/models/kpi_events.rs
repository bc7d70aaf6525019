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

/// The outbox row of what happened to one order (see [`record_orders`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEvent {
    /// `{kind}:{order id}`: unique, so an order counts once per kind.
    pub event_key: String,
    pub kind: KpiKind,
    pub order_id: i64,
    pub customer_id: i64,
    /// [`order_day`].
    pub day: String,
    pub revenue_delta_cents: i64,
}

impl OrderEvent {
    /// The event `kind` of `order`, as it is after the transition.
    #[must_use]
    pub fn of(kind: KpiKind, order: &orders::Model) -> Self {
        Self {
            event_key: format!("{}:{}", kind.as_str(), order.id),
            kind,
            order_id: order.id,
            customer_id: order.customer_id,
            day: order_day(order),
            revenue_delta_cents: match kind {
                KpiKind::OrderPaid => order.total_cents,
                KpiKind::OrderFailed | KpiKind::RefundProcessed => 0,
            },
        }
    }
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
            let event = OrderEvent::of(kind, o);
            [
                event.event_key.into(),
                event.kind.as_str().into(),
                event.order_id.into(),
                event.customer_id.into(),
                event.day.into(),
                event.revenue_delta_cents.into(),
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
