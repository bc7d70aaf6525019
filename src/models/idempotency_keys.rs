//! Idempotency keys as a table: a key is claimed before the work starts (a row
//! without a response is a request in flight), and the first response is stored
//! on it, in the transaction of the work itself, to be replayed.
use std::time::Duration;

use sea_orm::{
    entity::prelude::*,
    sea_query::{Expr, Query},
    ActiveValue::Set,
    Condition, TryInsertResult,
};

mod many;
mod row;

pub use many::{claim_many, store_responses, NewClaim};
use row::expiry;
pub use row::StoredResponse;

pub use super::_entities::idempotency_keys::{ActiveModel, Column, Entity, Model};
pub type IdempotencyKeys = Entity;

/// A claim with no response this old belongs to a process that died before
/// its work committed (the work and its response commit together), so it may
/// be taken over. Far longer than any request takes.
pub const IN_FLIGHT_LEASE: Duration = Duration::from_secs(60);

impl ActiveModelBehavior for ActiveModel {}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This request owns the key (row id): do the work, then store the response.
    New(i64),
    /// The same request was answered before: answer the same again.
    Replay(StoredResponse),
    /// The key was used for a different request.
    Reused,
    /// The same request is being handled right now.
    InFlight,
}

/// Claims (scope, key) for a request whose digest is `request_hash`.
///
/// The claim is its own statement, committed at once, so that a concurrent
/// request with the same key sees it and gets "in flight" instead of waiting.
///
/// # Errors
/// Database errors.
pub async fn claim<C: ConnectionTrait>(
    db: &C,
    scope: &str,
    key: &str,
    request_hash: &str,
    ttl: Duration,
) -> Result<Claim, DbErr> {
    // Another round covers a row deleted or taken over between our statements.
    for _ in 0..3 {
        let now = chrono::Utc::now();
        let fresh = ActiveModel {
            scope: Set(scope.to_string()),
            key: Set(key.to_string()),
            request_hash: Set(request_hash.to_string()),
            expires_at: Set(expiry(now, ttl)),
            created_at: Set(now.naive_utc()),
            updated_at: Set(now.naive_utc()),
            ..Default::default()
        };
        let inserted = Entity::insert(fresh)
            .on_conflict_do_nothing_on([Column::Scope, Column::Key])
            .exec(db)
            .await?;
        if let TryInsertResult::Inserted(done) = inserted {
            return Ok(Claim::New(done.last_insert_id));
        }
        let Some(row) = Entity::find()
            .filter(Column::Scope.eq(scope))
            .filter(Column::Key.eq(key))
            .one(db)
            .await?
        else {
            continue;
        };
        if row.expires_at <= now {
            // Forgotten: the key may start a new request.
            if take_over(db, row.id, request_hash, ttl, expired(now)).await? {
                return Ok(Claim::New(row.id));
            }
            continue;
        }
        if row.request_hash != request_hash {
            return Ok(Claim::Reused);
        }
        if let (Some(status), Some(body)) = (row.response_status, row.response_body) {
            return Ok(Claim::Replay(StoredResponse {
                status: u16::try_from(status).unwrap_or(500),
                body,
                refund_id: row.refund_id,
            }));
        }
        if row.updated_at > (now - lease()).naive_utc() {
            return Ok(Claim::InFlight);
        }
        if take_over(db, row.id, request_hash, ttl, abandoned(now)).await? {
            return Ok(Claim::New(row.id));
        }
    }
    Ok(Claim::InFlight)
}

/// Stores the response on a claimed key, inside the caller's transaction.
/// False when the claim is no longer ours to answer.
///
/// # Errors
/// Database errors.
pub async fn store_response<C: ConnectionTrait>(
    db: &C,
    claim_id: i64,
    order_id: Option<i64>,
    response: &StoredResponse,
) -> Result<bool, DbErr> {
    let updated = Entity::update_many()
        .col_expr(
            Column::ResponseStatus,
            Expr::value(i32::from(response.status)),
        )
        .col_expr(Column::ResponseBody, Expr::value(response.body.clone()))
        .col_expr(Column::OrderId, Expr::value(order_id))
        .col_expr(Column::RefundId, Expr::value(response.refund_id))
        .col_expr(
            Column::UpdatedAt,
            Expr::value(chrono::Utc::now().naive_utc()),
        )
        .filter(Column::Id.eq(claim_id))
        .filter(Column::ResponseStatus.is_null())
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Gives a claim up (the work failed on our side): the client may retry the key.
///
/// # Errors
/// Database errors.
pub async fn release<C: ConnectionTrait>(db: &C, claim_id: i64) -> Result<(), DbErr> {
    Entity::delete_many()
        .filter(Column::Id.eq(claim_id))
        .filter(Column::ResponseStatus.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes up to `limit` keys that expired before `now`; returns how many.
///
/// # Errors
/// Database errors.
pub async fn purge_expired<C: ConnectionTrait>(
    db: &C,
    now: chrono::DateTime<chrono::Utc>,
    limit: u64,
) -> Result<u64, DbErr> {
    let oldest = Query::select()
        .column(Column::Id)
        .from(Entity)
        .and_where(Column::ExpiresAt.lt(now.fixed_offset()))
        .limit(limit)
        .to_owned();
    let deleted = Entity::delete_many()
        .filter(Column::Id.in_subquery(oldest))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}

/// Re-arms row `id` for a new request, if `guard` still holds.
async fn take_over<C: ConnectionTrait>(
    db: &C,
    id: i64,
    request_hash: &str,
    ttl: Duration,
    guard: Condition,
) -> Result<bool, DbErr> {
    let now = chrono::Utc::now();
    let updated = Entity::update_many()
        .col_expr(Column::RequestHash, Expr::value(request_hash))
        .col_expr(Column::OrderId, Expr::value(Option::<i64>::None))
        .col_expr(Column::RefundId, Expr::value(Option::<i64>::None))
        .col_expr(Column::ResponseStatus, Expr::value(Option::<i32>::None))
        .col_expr(Column::ResponseBody, Expr::value(Option::<String>::None))
        .col_expr(Column::ExpiresAt, Expr::value(expiry(now, ttl)))
        .col_expr(Column::CreatedAt, Expr::value(now.naive_utc()))
        .col_expr(Column::UpdatedAt, Expr::value(now.naive_utc()))
        .filter(Column::Id.eq(id))
        .filter(guard)
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

fn expired(now: chrono::DateTime<chrono::Utc>) -> Condition {
    Condition::all().add(Column::ExpiresAt.lte(now.fixed_offset()))
}

fn abandoned(now: chrono::DateTime<chrono::Utc>) -> Condition {
    Condition::all()
        .add(Column::ResponseStatus.is_null())
        .add(Column::UpdatedAt.lte((now - lease()).naive_utc()))
}

fn lease() -> chrono::Duration {
    chrono::Duration::from_std(IN_FLIGHT_LEASE).unwrap_or_else(|_| chrono::Duration::zero())
}
