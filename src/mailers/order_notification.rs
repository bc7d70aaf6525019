//! The e-mail a customer gets when their order changes state.
use include_dir::{include_dir, Dir};
use loco_rs::{
    app::AppContext,
    mailer::{Args, Mailer},
    Error, Result,
};
use serde_json::json;

use crate::models::{money::format_cents, order_notifications::Payload, statuses::OrderStatus};

static TEMPLATE: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/src/mailers/order_notification");

pub struct OrderNotificationMailer;

impl Mailer for OrderNotificationMailer {}

impl OrderNotificationMailer {
    /// Renders and sends the e-mail for `payload` through `ctx.mailer`, now.
    ///
    /// Not through Loco's background mailer queue: this already runs in the
    /// `notifications` job, whose retries and row need the outcome.
    ///
    /// # Errors
    /// No recipient, no mailer configured, a template error, or the SMTP failure.
    pub async fn send_now(ctx: &AppContext, from: &str, payload: &Payload) -> Result<()> {
        let to = payload
            .email
            .clone()
            .ok_or_else(|| Error::string("email notification without a recipient"))?;
        let args = Args {
            from: Some(from.to_owned()),
            to,
            locals: locals(payload),
            ..Default::default()
        };
        Self::mail_template_now(ctx, &TEMPLATE, args).await
    }
}

/// What the templates see: money already formatted, wording by status.
fn locals(payload: &Payload) -> serde_json::Value {
    let (headline, summary) = match payload.status {
        OrderStatus::Paid => ("payment received", "Thank you: your payment was received."),
        OrderStatus::Failed => (
            "could not be completed",
            "We are sorry: your order could not be completed and you were not charged.",
        ),
        OrderStatus::Refunded => ("refunded", "Your order has been refunded."),
        OrderStatus::PartiallyRefunded => (
            "partially refunded",
            "Part of your order has been refunded.",
        ),
        OrderStatus::Pending | OrderStatus::Reserved => {
            ("status update", "The status of your order has changed.")
        }
    };
    json!({
        "order_id": payload.order_id,
        "customer_id": payload.customer_id,
        "status": payload.status,
        "total": format!("{} {}", format_cents(payload.total_cents), payload.currency),
        "reason": payload.reason,
        "headline": headline,
        "summary": summary,
    })
}
