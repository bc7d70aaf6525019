//! Which dead jobs concern one order: its workflow job, the jobs that mail its
//! notifications or pay its refunds, and the import chunk that carried it. An
//! operator searching the console for an order finds every job that died for it.
use std::collections::HashSet;

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use serde_json::Value;

use crate::{
    models::_entities::{order_notifications, orders, refunds},
    queue::queue_names,
};

/// The ids an order's jobs carry.
#[derive(Debug, Clone)]
pub struct OrderJobKeys {
    pub order_id: i64,
    pub external_id: String,
    notification_ids: HashSet<i64>,
    refund_ids: HashSet<i64>,
}

impl OrderJobKeys {
    /// Reads the ids of `order`'s notification and refund rows.
    ///
    /// # Errors
    /// Database errors.
    pub async fn of(db: &impl ConnectionTrait, order: &orders::Model) -> Result<Self, DbErr> {
        let notification_ids: Vec<i64> = order_notifications::Entity::find()
            .select_only()
            .column(order_notifications::Column::Id)
            .filter(order_notifications::Column::OrderId.eq(order.id))
            .into_tuple()
            .all(db)
            .await?;
        let refund_ids: Vec<i64> = refunds::Entity::find()
            .select_only()
            .column(refunds::Column::Id)
            .filter(refunds::Column::OrderId.eq(order.id))
            .into_tuple()
            .all(db)
            .await?;
        Ok(Self {
            order_id: order.id,
            external_id: order.external_id.clone(),
            notification_ids: notification_ids.into_iter().collect(),
            refund_ids: refund_ids.into_iter().collect(),
        })
    }

    /// Whether the job of queue `queue` (short name) with `payload` works on this order.
    #[must_use]
    pub fn concerns(&self, queue: &str, payload: &Value) -> bool {
        match queue {
            queue_names::WORKFLOW => payload["order_id"].as_i64() == Some(self.order_id),
            queue_names::NOTIFICATIONS => {
                payload["notification_ids"].as_array().is_some_and(|ids| {
                    ids.iter()
                        .filter_map(Value::as_i64)
                        .any(|id| self.notification_ids.contains(&id))
                })
            }
            queue_names::REFUNDS => payload["refund_id"]
                .as_i64()
                .is_some_and(|id| self.refund_ids.contains(&id)),
            queue_names::IMPORT => payload["orders"].as_array().is_some_and(|orders| {
                orders
                    .iter()
                    .any(|o| o["external_id"].as_str() == Some(self.external_id.as_str()))
            }),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn keys() -> OrderJobKeys {
        OrderJobKeys {
            order_id: 7,
            external_id: "ORD-7".into(),
            notification_ids: [70].into_iter().collect(),
            refund_ids: [700].into_iter().collect(),
        }
    }

    #[test]
    fn each_queue_is_matched_on_the_id_its_jobs_carry() {
        let k = keys();
        assert!(k.concerns(queue_names::WORKFLOW, &json!({"order_id": 7})));
        assert!(!k.concerns(queue_names::WORKFLOW, &json!({"order_id": 8})));
        assert!(k.concerns(
            queue_names::NOTIFICATIONS,
            &json!({"notification_ids": [1, 70]})
        ));
        assert!(!k.concerns(
            queue_names::NOTIFICATIONS,
            &json!({"notification_ids": [7]})
        ));
        assert!(k.concerns(queue_names::REFUNDS, &json!({"refund_id": 700})));
        assert!(!k.concerns(queue_names::REFUNDS, &json!({"refund_id": 7})));
        let chunk = json!({"import_id": 1, "seq": 1, "orders": [{"external_id": "ORD-7"}]});
        assert!(k.concerns(queue_names::IMPORT, &chunk));
        assert!(!k.concerns(
            queue_names::IMPORT,
            &json!({"orders": [{"external_id": "ORD-70"}]})
        ));
        assert!(!k.concerns("unknown", &json!({"order_id": 7})));
    }
}
