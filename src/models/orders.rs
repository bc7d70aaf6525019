pub use super::_entities::orders::{ActiveModel, Entity, Model};
use std::collections::HashMap;

use sea_orm::{entity::prelude::*, Condition, QueryOrder};

use super::_entities::{order_items, order_notifications, payments, products, refunds};
pub type Orders = Entity;

/// Statuses a refund can be taken from.
pub const REFUNDABLE: [&str; 2] = ["paid", "partially_refunded"];

#[async_trait::async_trait]
impl ActiveModelBehavior for ActiveModel {
    async fn before_save<C>(self, _db: &C, _insert: bool) -> std::result::Result<Self, DbErr>
    where
        C: ConnectionTrait,
    {
        Ok(self)
    }
}

/// Everything that hangs off one order, for `GET /api/orders/{id}`.
#[derive(Debug, Clone)]
pub struct OrderRecord {
    pub order: Model,
    pub customer_external_id: Option<String>,
    pub items: Vec<(order_items::Model, Option<products::Model>)>,
    pub payments: Vec<payments::Model>,
    pub refunds: Vec<refunds::Model>,
    pub notifications: Vec<order_notifications::Model>,
}

impl Model {
    /// Whether a refund may be requested in this status.
    #[must_use]
    pub fn is_refundable(&self) -> bool {
        REFUNDABLE.contains(&self.status.as_str())
    }

    /// What is left to refund: the total minus refunds processed or pending.
    #[must_use]
    pub const fn refundable_cents(&self) -> i64 {
        self.total_cents - self.refund_reserved_cents
    }

    /// Loads the order's items, payments, refunds and notifications.
    ///
    /// # Errors
    /// Database errors.
    pub async fn record<C: ConnectionTrait>(self, db: &C) -> Result<OrderRecord, DbErr> {
        let customer = super::_entities::customers::Entity::find_by_id(self.customer_id)
            .one(db)
            .await?;
        let items = order_items::Entity::find()
            .filter(order_items::Column::OrderId.eq(self.id))
            .find_also_related(products::Entity)
            .order_by_asc(order_items::Column::LineNo)
            .all(db)
            .await?;
        let payments = payments::Entity::find()
            .filter(payments::Column::OrderId.eq(self.id))
            .order_by_asc(payments::Column::Id)
            .all(db)
            .await?;
        let refunds = refunds::Entity::find()
            .filter(refunds::Column::OrderId.eq(self.id))
            .order_by_asc(refunds::Column::Id)
            .all(db)
            .await?;
        let notifications = order_notifications::Entity::find()
            .filter(order_notifications::Column::OrderId.eq(self.id))
            .order_by_asc(order_notifications::Column::Id)
            .all(db)
            .await?;
        Ok(OrderRecord {
            customer_external_id: customer.map(|c| c.external_id),
            order: self,
            items,
            payments,
            refunds,
            notifications,
        })
    }
}

impl Entity {
    /// Finds an order by its external id (`ORD-2025-001`) or, failing that,
    /// by its internal numeric id. An external id wins when both could match.
    ///
    /// # Errors
    /// Database errors.
    pub async fn find_by_ref<C: ConnectionTrait>(
        db: &C,
        reference: &str,
    ) -> Result<Option<Model>, DbErr> {
        let by_external = Self::find()
            .filter(super::_entities::orders::Column::ExternalId.eq(reference))
            .one(db)
            .await?;
        if by_external.is_some() {
            return Ok(by_external);
        }
        match numeric_id(reference) {
            Some(id) => Self::find_by_id(id).one(db).await,
            None => Ok(None),
        }
    }

    /// [`Self::find_by_ref`] for many references with one query: each
    /// reference found maps to its order, by the same rule.
    ///
    /// # Errors
    /// Database errors.
    pub async fn find_by_refs<C: ConnectionTrait>(
        db: &C,
        references: &[&str],
    ) -> Result<HashMap<String, Model>, DbErr> {
        use super::_entities::orders::Column;
        if references.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<i64> = references.iter().filter_map(|r| numeric_id(r)).collect();
        let found = Self::find()
            .filter(
                Condition::any()
                    .add(Column::ExternalId.is_in(references.iter().copied()))
                    .add(Column::Id.is_in(ids)),
            )
            .all(db)
            .await?;
        let by_id: HashMap<i64, &Model> = found.iter().map(|o| (o.id, o)).collect();
        let by_external: HashMap<&str, &Model> =
            found.iter().map(|o| (o.external_id.as_str(), o)).collect();
        Ok(references
            .iter()
            .filter_map(|&r| {
                let order = by_external
                    .get(r)
                    .or_else(|| numeric_id(r).and_then(|id| by_id.get(&id)))?;
                Some((r.to_string(), (*order).clone()))
            })
            .collect())
    }
}

/// A reference read as an internal id: a positive integer.
fn numeric_id(reference: &str) -> Option<i64> {
    reference.parse::<i64>().ok().filter(|id| *id > 0)
}
