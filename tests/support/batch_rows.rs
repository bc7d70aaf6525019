//! What a workflow batch wrote for its orders, read back and compared with
//! what the Rust code builds for them (`Queued::of`, `OrderEvent::of`).
use std::collections::HashMap;

use orders_flow::models::{
    _entities::{customers, kpi_events, order_notifications, orders, products},
    kpi_events::{KpiKind, OrderEvent},
    order_notifications::Queued,
};
use sea_orm::{DatabaseConnection, EntityTrait};

/// `product`'s stock as stored now.
pub async fn stock_of(db: &DatabaseConnection, product: &products::Model) -> i64 {
    products::Entity::find_by_id(product.id)
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .stock
}

/// `order` as stored now.
pub async fn reload(db: &DatabaseConnection, order: &orders::Model) -> orders::Model {
    orders::Entity::find_by_id(order.id)
        .one(db)
        .await
        .unwrap()
        .unwrap()
}

/// Every customer, by id.
pub async fn customers_by_id(db: &DatabaseConnection) -> HashMap<i64, customers::Model> {
    customers::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.id, c))
        .collect()
}

/// `row` is the queued notification `Queued::of` builds for `order` (as
/// stored after its transition) to `customer`, byte for byte.
pub fn assert_notification_as_built(
    row: &order_notifications::Model,
    order: &orders::Model,
    customer: &customers::Model,
    email_enabled: bool,
) {
    let want = Queued::of(order, customer, order.status.as_str(), None, email_enabled).unwrap();
    assert_eq!(
        (
            row.order_id,
            row.event.as_str(),
            row.channel.as_str(),
            row.payload.as_str(),
            row.status.as_str(),
            row.attempts
        ),
        (
            want.order_id,
            want.event.as_str(),
            want.channel,
            want.payload.as_str(),
            "queued",
            0
        )
    );
}

/// `row` is the KPI event `OrderEvent::of` builds for `order` (as stored
/// after its transition), not yet applied.
pub fn assert_event_as_built(row: &kpi_events::Model, kind: KpiKind, order: &orders::Model) {
    let want = OrderEvent::of(kind, order);
    assert_eq!(
        (
            row.event_key.as_str(),
            row.kind.as_str(),
            row.order_id,
            row.customer_id,
            row.day.as_str(),
            row.revenue_delta_cents,
            row.refund_id,
            row.applied_at
        ),
        (
            want.event_key.as_str(),
            want.kind.as_str(),
            want.order_id,
            want.customer_id,
            want.day.as_str(),
            want.revenue_delta_cents,
            None,
            None
        )
    );
}
