//! Taking a refund request: claim the key, reserve the amount, record the answer.
use sea_orm::{
    sea_query::{Expr, ExprTrait},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait,
    TryInsertResult,
};

use super::{
    call::{accepted_response, RefundCall, PUSH_WAIT},
    desk::{Answer, Recorded, RefundDesk},
    error::RefundError,
};
use crate::models::{
    _entities::{orders, refunds},
    idempotency_keys::{self, Claim, StoredResponse},
    statuses::{OrderStatus, RefundStatus},
};

/// Takes a refund request: the same rules for the API and the CLI.
///
/// The request joins this process's next batch ([`super::batcher`]): one
/// transaction claims the keys, reserves the amounts with a conditional update
/// (the sum of refunds can never pass the total, whatever runs at once),
/// writes the refund rows and stores the responses; then one Redis call
/// queues the refund jobs. A request the batch cannot take (its key exists
/// already, a second one for the same order or key, a failed batch) takes the
/// single path below, with the same rules.
///
/// Refusals found against the order (404, 409, 422 over the remainder) are
/// answers too: stored on the key and replayed. Anything failing on our side
/// gives the key back so that the client can retry it.
///
/// # Errors
/// Refusals that are not stored (key in flight or reused) and server errors.
pub async fn request<D: RefundDesk>(
    db: &DatabaseConnection,
    desk: &D,
    call: RefundCall<'_>,
) -> Result<Recorded, RefundError> {
    match desk.batcher().submit(db, desk, &call).await {
        Some(Answer::Recorded(recorded)) => Ok(recorded),
        Some(Answer::Single) | None => single(db, desk, call).await,
    }
}

/// One request on its own:
///
/// 1. The key is claimed on its own (a concurrent twin sees it in flight); an
///    existing key is replayed, refused, or taken over when expired or abandoned.
/// 2. One transaction reserves the amount, writes the refund row and stores
///    the response on the key.
/// 3. The refund job is queued.
async fn single<D: RefundDesk>(
    db: &DatabaseConnection,
    desk: &D,
    call: RefundCall<'_>,
) -> Result<Recorded, RefundError> {
    let order = orders::Entity::find_by_external_id(db, call.order_ref).await?;
    let target = order.as_ref().map_or_else(
        || format!("order-ref:{}", call.order_ref),
        |o| format!("order:{}", o.id),
    );
    let hash = call.input.request_hash(&target);
    let ttl = std::time::Duration::from_secs(desk.refund_settings().key_ttl_secs);
    let claim_id =
        match idempotency_keys::claim(db, call.scope, call.key.as_str(), &hash, ttl).await? {
            Claim::New(id) => id,
            Claim::Replay(stored) => {
                return Ok(Recorded {
                    status: stored.status,
                    body: stored.body,
                    replayed: true,
                    refund_id: stored.refund_id,
                })
            }
            Claim::Reused => return Err(RefundError::KeyReused),
            Claim::InFlight => return Err(RefundError::InFlight),
        };

    let accepted = match &order {
        Some(order) => accept(db, claim_id, &call, order).await,
        None => Err(RefundError::OrderNotFound(call.order_ref.to_string())),
    };
    match accepted {
        Ok(recorded) => {
            if let Some(refund_id) = recorded.refund_id {
                // Committed already: if Redis fails now, the recovery sweep
                // queues the pending refund again; the answer stays 202.
                // Within a bound (`PUSH_WAIT`): the caller waits for this answer.
                if let Err(e) = desk.queue_refunds(vec![refund_id], PUSH_WAIT).await {
                    tracing::warn!(refund_id, error = %e, "refund job not queued; the sweep will");
                }
            }
            Ok(recorded)
        }
        Err(refusal) if refusal.is_stored() => {
            let response = StoredResponse {
                status: refusal.status().as_u16(),
                body: refusal.body().to_string(),
                refund_id: None,
            };
            let order_id = order.as_ref().map(|o| o.id);
            if let Err(e) =
                idempotency_keys::store_response(db, claim_id, order_id, &response).await
            {
                release(db, claim_id).await;
                return Err(e.into());
            }
            Ok(Recorded {
                status: response.status,
                body: response.body,
                replayed: false,
                refund_id: None,
            })
        }
        Err(failure) => {
            // Not when the claim went to someone else (it is theirs to answer).
            if matches!(failure, RefundError::Db(_) | RefundError::Internal(_)) {
                release(db, claim_id).await;
            }
            Err(failure)
        }
    }
}

/// Reserves the amount, writes the refund and stores the 202, all or nothing.
async fn accept(
    db: &DatabaseConnection,
    claim_id: i64,
    call: &RefundCall<'_>,
    order: &orders::Model,
) -> Result<Recorded, RefundError> {
    let amount = call.input.amount_cents;
    let now = chrono::Utc::now();
    let txn = db.begin().await?;
    let reserved = orders::Entity::update_many()
        .col_expr(
            orders::Column::RefundReservedCents,
            Expr::col(orders::Column::RefundReservedCents).add(amount),
        )
        .col_expr(orders::Column::UpdatedAt, Expr::value(now.naive_utc()))
        .filter(orders::Column::Id.eq(order.id))
        .filter(orders::Column::Status.is_in(OrderStatus::REFUNDABLE))
        // `amount <= total - reserved`, not `reserved + amount <= total`: the sum
        // overflows BIGINT for an amount near i64::MAX (a 500 instead of a 422).
        .filter(
            Expr::value(amount).lte(
                Expr::col(orders::Column::TotalCents)
                    .sub(Expr::col(orders::Column::RefundReservedCents)),
            ),
        )
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    if !reserved {
        let current = orders::Entity::find_by_id(order.id).one(&txn).await?;
        txn.rollback().await?;
        return Err(match current {
            None => RefundError::OrderNotFound(call.order_ref.to_string()),
            Some(current) if !current.is_refundable() => RefundError::NotRefundable {
                order: current.external_id,
                status: current.status,
            },
            Some(current) => RefundError::ExceedsRefundable {
                remaining_cents: current.refundable_cents(),
            },
        });
    }
    let refund = refunds::ActiveModel {
        order_id: Set(order.id),
        idempotency_scope: Set(call.scope.to_string()),
        idempotency_key: Set(call.key.as_str().to_string()),
        amount_cents: Set(amount),
        status: Set(RefundStatus::Pending),
        reason: Set(call.input.reason.clone()),
        created_at: Set(now.naive_utc()),
        updated_at: Set(now.naive_utc()),
        ..Default::default()
    };
    let refund_id = match refunds::Entity::insert(refund)
        .on_conflict_do_nothing_on([
            refunds::Column::IdempotencyScope,
            refunds::Column::IdempotencyKey,
        ])
        .exec(&txn)
        .await?
    {
        TryInsertResult::Inserted(done) => done.last_insert_id,
        _ => {
            // The key expired and was forgotten, but a refund keeps its key forever.
            let existing = existing_refund(&txn, call).await?;
            txn.rollback().await?;
            return Err(RefundError::KeyAlreadyRefunded {
                refund_id: existing,
            });
        }
    };
    let response = accepted_response(refund_id, order, call);
    if !idempotency_keys::store_response(&txn, claim_id, Some(order.id), &response).await? {
        txn.rollback().await?;
        return Err(RefundError::InFlight);
    }
    txn.commit().await?;
    Ok(Recorded {
        status: response.status,
        body: response.body,
        replayed: false,
        refund_id: Some(refund_id),
    })
}

async fn existing_refund<C: ConnectionTrait>(
    db: &C,
    call: &RefundCall<'_>,
) -> Result<i64, RefundError> {
    refunds::Entity::find()
        .filter(refunds::Column::IdempotencyScope.eq(call.scope))
        .filter(refunds::Column::IdempotencyKey.eq(call.key.as_str()))
        .one(db)
        .await?
        .map(|r| r.id)
        .ok_or_else(|| RefundError::Internal("refund key conflict without a refund".to_string()))
}

/// Gives the key back after a failure on our side; a failure here only means
/// the client waits for the in-flight lease to lapse.
async fn release(db: &DatabaseConnection, claim_id: i64) {
    if let Err(e) = idempotency_keys::release(db, claim_id).await {
        tracing::warn!(claim_id, error = %e, "could not release an idempotency key");
    }
}
