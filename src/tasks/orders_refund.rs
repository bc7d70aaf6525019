//! `cargo loco task orders_refund order=ID amount_cents=N [reason=…] [key=…]`
use loco_rs::{
    app::AppContext,
    task::{Task, TaskInfo, Vars},
    Error, Result,
};

use sea_orm::EntityTrait;

use super::args::{Arg, TaskArgs};
use crate::models::{
    money::format_cents,
    refunds::{self, parse_amount_cents, IdempotencyKey, RefundCall, RefundInput, CLI_SCOPE},
    statuses::RefundStatus,
};
use crate::workers::Services;

const NAME: &str = "orders_refund";
const ARGS: &[Arg] = &[
    Arg::required(
        "order",
        "the order's external id, as in the imported file (ORD-2025-001)",
    ),
    Arg::required(
        "amount_cents",
        "amount to refund, in cents, digits only (5000 = 50.00)",
    ),
    Arg::optional("reason", "why, kept on the refund"),
    Arg::optional(
        "key",
        "idempotency key: a repeated key reports the refund it created and changes nothing (default: a new one)",
    ),
];

/// Queues a refund from the shell, with the same rules as the API.
pub struct OrdersRefund;

#[async_trait::async_trait]
impl Task for OrdersRefund {
    fn task(&self) -> TaskInfo {
        TaskInfo {
            name: NAME.to_string(),
            detail: "Queue a refund of an order (same rules as POST /api/orders/{id}/refunds)"
                .to_string(),
        }
    }

    async fn run(&self, ctx: &AppContext, vars: &Vars) -> Result<()> {
        let args = TaskArgs::parse(NAME, ARGS, vars)?;
        let order = args.require("order")?;
        let raw_amount = args.require("amount_cents")?;
        let amount_cents = parse_amount_cents(raw_amount, "`amount_cents`")
            .map_err(|e| args.usage_error(&format!("argument {e}")))?;
        let key = match args.get("key") {
            Some(raw) => IdempotencyKey::parse(Some(raw)),
            None => Ok(IdempotencyKey::generate()),
        };
        let rejected = |e: refunds::RefundError| Error::string(&format!("refund rejected: {e}"));
        let key = key.map_err(rejected)?;
        let input = RefundInput::new(amount_cents, args.get("reason").map(str::to_string))
            .map_err(rejected)?;
        let call = RefundCall {
            scope: CLI_SCOPE,
            key: &key,
            order_ref: order,
            input: &input,
        };
        let desk = Services::of(ctx)?;
        let answer = refunds::request(&ctx.db, &desk, call)
            .await
            .map_err(rejected)?;
        let body: serde_json::Value = serde_json::from_str(&answer.body)?;
        if answer.status >= 400 {
            return Err(Error::string(&format!(
                "refund rejected: {} ({})",
                body["message"].as_str().unwrap_or("no message"),
                body["error"].as_str().unwrap_or("error"),
            )));
        }
        // A replay says what the key did first; the refund may have moved on since.
        let status = match answer.refund_id {
            Some(id) if answer.replayed => refunds::Entity::find_by_id(id)
                .one(&ctx.db)
                .await?
                .map(|r| r.status),
            _ => Some(RefundStatus::Pending),
        };
        let status = status.map_or("unknown", RefundStatus::as_str);
        if answer.replayed {
            println!("key {} was already used: nothing changed.", key.as_str());
        }
        println!(
            "refund {} of order {}: {} ({} cents), status {status}, key {}",
            body["refund_id"],
            body["order_id"].as_str().unwrap_or(order),
            format_cents(amount_cents),
            amount_cents,
            key.as_str()
        );
        Ok(())
    }
}
