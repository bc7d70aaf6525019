pub use super::_entities::orders::{ActiveModel, Entity, Model};
use std::collections::HashMap;

use sea_orm::{entity::prelude::*, QueryOrder, QuerySelect};

use super::{
    _entities::{order_items, order_notifications, orders::Column, payments, products, refunds},
    statuses::OrderStatus,
};
pub type Orders = Entity;

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
    pub customer_email: Option<String>,
    pub customer_name: Option<String>,
    pub items: Vec<(order_items::Model, Option<products::Model>)>,
    pub payments: Vec<payments::Model>,
    pub refunds: Vec<refunds::Model>,
    pub notifications: Vec<order_notifications::Model>,
}

impl Model {
    /// Whether a refund may be requested in this status.
    #[must_use]
    pub fn is_refundable(&self) -> bool {
        OrderStatus::REFUNDABLE.contains(&self.status)
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
            customer_email: customer.as_ref().and_then(|c| c.email.clone()),
            customer_name: customer.as_ref().and_then(|c| c.name.clone()),
            customer_external_id: customer.map(|c| c.external_id),
            order: self,
            items,
            payments,
            refunds,
            notifications,
        })
    }
}

/// How routes and tasks address an order: by its external id (`ORD-2025-001`,
/// or `5` in a shop that numbers its orders), the id the shop knows, and by
/// nothing else. The internal numeric id is never looked up: with numeric
/// order numbers, `5` could otherwise mean the shop's order 5 or the row with
/// id 5, two different orders. External ids are unique, so a reference means
/// one order or none.
impl Entity {
    /// Every status with its number of orders, in one `GROUP BY`. `status` has
    /// no index (migration 5), so this scans the table: callers cache it.
    ///
    /// # Errors
    /// Database errors.
    pub async fn count_by_status<C: ConnectionTrait>(db: &C) -> Result<Vec<(String, i64)>, DbErr> {
        Self::find()
            .select_only()
            .column(Column::Status)
            .column_as(Column::Id.count(), "n")
            .group_by(Column::Status)
            .order_by_asc(Column::Status)
            .into_tuple()
            .all(db)
            .await
    }

    /// The order whose external id is exactly `external_id`.
    ///
    /// # Errors
    /// Database errors.
    pub async fn find_by_external_id<C: ConnectionTrait>(
        db: &C,
        external_id: &str,
    ) -> Result<Option<Model>, DbErr> {
        Self::find()
            .filter(Column::ExternalId.eq(external_id))
            .one(db)
            .await
    }

    /// Orders still `pending` or `reserved` whose row has not changed since
    /// `before`: lost by the workflow or far behind it. Returns how many there
    /// are and the `limit` oldest.
    ///
    /// # Errors
    /// Database errors.
    pub async fn stuck<C: ConnectionTrait>(
        db: &C,
        before: DateTime,
        limit: u64,
    ) -> Result<(u64, Vec<Model>), DbErr> {
        use sea_orm::{PaginatorTrait, QuerySelect};
        let query = || {
            Self::find()
                .filter(Column::Status.is_in(OrderStatus::OPEN))
                .filter(Column::UpdatedAt.lt(before))
        };
        let count = query().count(db).await?;
        let oldest = query()
            .order_by_asc(Column::UpdatedAt)
            .order_by_asc(Column::Id)
            .limit(limit)
            .all(db)
            .await?;
        Ok((count, oldest))
    }

    /// [`Self::find_by_external_id`] for many ids with one query: each id
    /// found maps to its order.
    ///
    /// # Errors
    /// Database errors.
    pub async fn find_by_external_ids<C: ConnectionTrait>(
        db: &C,
        external_ids: &[&str],
    ) -> Result<HashMap<String, Model>, DbErr> {
        if external_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let found = Self::find()
            .filter(Column::ExternalId.is_in(external_ids.iter().copied()))
            .all(db)
            .await?;
        Ok(found
            .into_iter()
            .map(|o| (o.external_id.clone(), o))
            .collect())
    }
}
