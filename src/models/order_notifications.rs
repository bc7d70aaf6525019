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

/// Queues the notification of `event` for `order` inside the caller's transaction.
/// Returns the new row's id, or `None` when one already existed for (order, event).
///
/// # Errors
/// Database errors.
pub async fn queue_for<C: ConnectionTrait>(
    db: &C,
    order: &super::_entities::orders::Model,
    event: &str,
    reason: Option<&str>,
    email_enabled: bool,
) -> std::result::Result<Option<i64>, DbErr> {
    use sea_orm::ActiveValue::Set;
    let customer = super::_entities::customers::Entity::find_by_id(order.customer_id)
        .one(db)
        .await?;
    let email = customer
        .as_ref()
        .and_then(|c| c.email.clone())
        .filter(|e| !e.is_empty());
    let channel = if email_enabled && email.is_some() {
        "email"
    } else {
        "log"
    };
    let payload = serde_json::json!({
        "order_id": order.external_id,
        "order_db_id": order.id,
        "customer_id": customer.map(|c| c.external_id),
        "status": order.status,
        "total_cents": order.total_cents,
        "currency": order.currency,
        "reason": reason,
    });
    let row = ActiveModel {
        order_id: Set(order.id),
        event: Set(event.to_string()),
        channel: Set(channel.to_string()),
        status: Set("queued".to_string()),
        payload: Set(payload.to_string()),
        attempts: Set(0),
        ..Default::default()
    };
    let inserted = Entity::insert(row)
        .on_conflict_do_nothing_on([
            super::_entities::order_notifications::Column::OrderId,
            super::_entities::order_notifications::Column::Event,
        ])
        .exec(db)
        .await?;
    Ok(match inserted {
        sea_orm::TryInsertResult::Inserted(result) => Some(result.last_insert_id),
        _ => None,
    })
}

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

/// Adds `extra` fields to the payload of notification `id` (queued by
/// [`queue_for`] in the same transaction), e.g. the amount of a refund.
///
/// # Errors
/// Database errors, or a stored payload that is not a JSON object.
pub async fn add_details<C: ConnectionTrait>(
    db: &C,
    id: i64,
    extra: serde_json::Value,
) -> std::result::Result<(), DbErr> {
    let Some(row) = Entity::find_by_id(id).one(db).await? else {
        return Ok(());
    };
    let mut payload: serde_json::Value = serde_json::from_str(&row.payload)
        .map_err(|e| DbErr::Custom(format!("notification {id}: payload: {e}")))?;
    if let (Some(map), serde_json::Value::Object(extra)) = (payload.as_object_mut(), extra) {
        map.extend(extra);
    }
    Entity::update_many()
        .col_expr(
            super::_entities::order_notifications::Column::Payload,
            sea_orm::sea_query::Expr::value(payload.to_string()),
        )
        .filter(super::_entities::order_notifications::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
