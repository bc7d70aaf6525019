pub use super::_entities::order_notifications::{ActiveModel, Entity, Model};
use sea_orm::entity::prelude::*;
pub type OrderNotifications = Entity;

#[async_trait::async_trait]
impl ActiveModelBehavior for ActiveModel {
    async fn before_save<C>(self, _db: &C, _insert: bool) -> std::result::Result<Self, DbErr>
    where
        C: ConnectionTrait,
    {
        Ok(self)
    }
}

// implement your read-oriented logic here
impl Model {}

// implement your write-oriented logic here
impl ActiveModel {}

// implement your custom finders, selectors oriented logic here
impl Entity {}

/// Sends notification `notification_id` and records the outcome on its row.
///
/// # Errors
/// Retryable when the channel fails (the row records the error).
pub async fn deliver(
    _ctx: &loco_rs::app::AppContext,
    notification_id: i64,
) -> crate::workers::JobResult {
    Err(crate::workers::JobError::Permanent(anyhow::anyhow!(
        "notification {notification_id}: delivery is not built yet"
    )))
}
