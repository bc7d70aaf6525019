use serde::Serialize;

use super::{mask, refunds::RefundResponse};
use crate::models::{
    orders::OrderRecord,
    statuses::{FailureReason, NotificationStatus, OrderStatus, PaymentStatus},
};

/// `GET /api/orders/{id}`: the order with its items, payments, refunds and notifications.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderResponse {
    pub id: i64,
    pub external_id: String,
    pub customer_id: Option<String>,
    /// Customer data: masked unless the caller has the `ops` scope.
    pub customer_email: Option<String>,
    pub customer_name: Option<String>,
    #[schema(value_type = String)]
    pub status: OrderStatus,
    pub currency: String,
    pub total_cents: i64,
    /// Refunds pending or processed.
    pub refund_reserved_cents: i64,
    /// Refunds processed.
    pub refunded_cents: i64,
    /// What a new refund may still take.
    pub refundable_cents: i64,
    #[schema(value_type = Option<String>)]
    pub failure_reason: Option<FailureReason>,
    pub placed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub paid_at: Option<chrono::DateTime<chrono::Utc>>,
    pub items: Vec<ItemResponse>,
    pub payments: Vec<PaymentResponse>,
    pub refunds: Vec<RefundResponse>,
    pub notifications: Vec<NotificationResponse>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemResponse {
    pub line_no: i32,
    pub sku: Option<String>,
    pub name: Option<String>,
    pub qty: i64,
    pub unit_price_cents: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaymentResponse {
    pub id: i64,
    pub amount_cents: i64,
    pub currency: String,
    pub provider: String,
    pub provider_ref: String,
    #[schema(value_type = String)]
    pub status: PaymentStatus,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NotificationResponse {
    pub id: i64,
    pub event: String,
    pub channel: String,
    #[schema(value_type = String)]
    pub status: NotificationStatus,
    pub attempts: i32,
    pub error: Option<String>,
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl OrderResponse {
    /// Masks the customer's e-mail and name, and addresses in send errors.
    pub fn mask_customer_data(&mut self) {
        for value in [&mut self.customer_email, &mut self.customer_name]
            .into_iter()
            .flatten()
        {
            *value = mask::value(value);
        }
        for notification in &mut self.notifications {
            if let Some(error) = &mut notification.error {
                *error = mask::text(error);
            }
        }
    }
}

impl From<OrderRecord> for OrderResponse {
    fn from(record: OrderRecord) -> Self {
        let order = record.order;
        Self {
            refundable_cents: order.refundable_cents(),
            id: order.id,
            customer_id: record.customer_external_id,
            customer_email: record.customer_email,
            customer_name: record.customer_name,
            status: order.status,
            currency: order.currency,
            total_cents: order.total_cents,
            refund_reserved_cents: order.refund_reserved_cents,
            refunded_cents: order.refunded_cents,
            failure_reason: order.failure_reason,
            placed_at: order.placed_at.map(|t| t.to_utc()),
            paid_at: order.paid_at.map(|t| t.to_utc()),
            items: record
                .items
                .into_iter()
                .map(|(item, product)| ItemResponse {
                    line_no: item.line_no,
                    sku: product.as_ref().map(|p| p.sku.clone()),
                    name: product.map(|p| p.name),
                    qty: item.qty,
                    unit_price_cents: item.unit_price_cents,
                })
                .collect(),
            payments: record
                .payments
                .into_iter()
                .map(|p| PaymentResponse {
                    id: p.id,
                    amount_cents: p.amount_cents,
                    currency: p.currency,
                    provider: p.provider,
                    provider_ref: p.provider_ref,
                    status: p.status,
                    created_at: p.created_at.and_utc(),
                })
                .collect(),
            refunds: record
                .refunds
                .into_iter()
                .map(|r| RefundResponse::new(r, &order.external_id))
                .collect(),
            notifications: record
                .notifications
                .into_iter()
                .map(|n| NotificationResponse {
                    id: n.id,
                    event: n.event,
                    channel: n.channel,
                    status: n.status,
                    attempts: n.attempts,
                    error: n.error,
                    sent_at: n.sent_at.map(|t| t.to_utc()),
                })
                .collect(),
            external_id: order.external_id,
        }
    }
}
