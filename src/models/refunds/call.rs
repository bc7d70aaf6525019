//! A refund request as the batch and the single path both take it: who asks
//! for what ([`RefundCall`]) and the 202 stored on the key. Apart from `request` and `batch` so that neither imports the other.
use serde_json::json;

use super::input::{IdempotencyKey, RefundInput};
use crate::models::{_entities::orders, idempotency_keys::StoredResponse, statuses::RefundStatus};

/// Longest a refund request waits for its job to be queued. The refund is
/// committed by then, so a slow or absent Redis costs a caller this much, not
/// the Redis connection's 5 s timeouts: the answer stays 202, the push goes on
/// in the background, and the recovery sweep queues what it fails to (a refund
/// job that lands twice is refused by the guarded transitions).
pub const PUSH_WAIT: std::time::Duration = std::time::Duration::from_millis(400);

/// Who asks for what: the caller's key scope (token name or `cli`), its key,
/// and the order as given: its external id (`ORD-2025-001`), never the internal one.
#[derive(Debug, Clone, Copy)]
pub struct RefundCall<'a> {
    pub scope: &'a str,
    pub key: &'a IdempotencyKey,
    pub order_ref: &'a str,
    pub input: &'a RefundInput,
}

/// The 202 of an accepted refund, as stored on its key.
pub(super) fn accepted_response(
    refund_id: i64,
    order: &orders::Model,
    call: &RefundCall<'_>,
) -> StoredResponse {
    let body = json!({
        "refund_id": refund_id,
        "order_id": order.external_id,
        "amount_cents": call.input.amount_cents,
        "status": RefundStatus::Pending,
        "idempotency_key": call.key.as_str(),
        "message": "Refund request queued",
    })
    .to_string();
    StoredResponse {
        status: 202,
        body,
        refund_id: Some(refund_id),
    }
}
