//! Keys of many requests at once, inside the caller's transaction: one
//! multi-row claim and one multi-row update storing the responses.
use std::{collections::HashMap, time::Duration};

use sea_orm::{
    sea_query::{Alias, Expr, ExprTrait, IntoIden, OnConflict, Query, TableRef, ValueTuple},
    ConnectionTrait, DbErr, Value,
};

use super::row::{expiry, StoredResponse};
use crate::models::_entities::idempotency_keys::{Column, Entity};

/// A key to claim for a request whose digest is `request_hash`.
#[derive(Debug, Clone, Copy)]
pub struct NewClaim<'a> {
    pub scope: &'a str,
    pub key: &'a str,
    pub request_hash: &'a str,
}

/// Claims every key that nobody holds, with one `INSERT … ON CONFLICT DO
/// NOTHING RETURNING`; returns the claim id of each key inserted by (scope, key).
///
/// A key missing from the answer already exists (answered, in flight, expired
/// or abandoned): [`super::claim`] sorts those out one by one. Unlike
/// [`super::claim`], these claims commit with the caller's transaction, so a
/// rollback takes them back. Keys are inserted in (scope, key) order, so two
/// such transactions never wait on each other's keys in a cycle.
///
/// # Errors
/// Database errors; duplicate keys in `claims` are the caller's mistake.
pub async fn claim_many<C: ConnectionTrait>(
    db: &C,
    claims: &[NewClaim<'_>],
    ttl: Duration,
) -> Result<HashMap<(String, String), i64>, DbErr> {
    if claims.is_empty() {
        return Ok(HashMap::new());
    }
    let mut sorted: Vec<&NewClaim<'_>> = claims.iter().collect();
    sorted.sort_unstable_by_key(|c| (c.scope, c.key));
    let now = chrono::Utc::now();
    let mut insert = Query::insert();
    insert.into_table(Entity).columns([
        Column::Scope,
        Column::Key,
        Column::RequestHash,
        Column::ExpiresAt,
        Column::CreatedAt,
        Column::UpdatedAt,
    ]);
    for claim in sorted {
        insert
            .values([
                Expr::val(claim.scope),
                Expr::val(claim.key),
                Expr::val(claim.request_hash),
                Expr::val(expiry(now, ttl)),
                Expr::val(now.naive_utc()),
                Expr::val(now.naive_utc()),
            ])
            .map_err(|e| DbErr::Custom(e.to_string()))?;
    }
    insert
        .on_conflict(
            OnConflict::columns([Column::Scope, Column::Key])
                .do_nothing()
                .to_owned(),
        )
        .returning(Query::returning().columns([Column::Id, Column::Scope, Column::Key]));
    db.query_all(&insert)
        .await?
        .iter()
        .map(|row| {
            Ok((
                (row.try_get_by_index(1)?, row.try_get_by_index(2)?),
                row.try_get_by_index(0)?,
            ))
        })
        .collect()
}

/// Stores the first response of each claim, `(claim id, order id, response)`,
/// with one `UPDATE … FROM (VALUES …)`; returns how many claims took theirs
/// (a claim already answered is left alone, as in [`super::store_response`]).
///
/// The rows are read as `v.column1…` (the names PostgreSQL and SQLite both
/// give the columns of a bare `VALUES` list; SQLite has no `AS v(a, b)`).
///
/// # Errors
/// Database errors.
pub async fn store_responses<C: ConnectionTrait>(
    db: &C,
    responses: &[(i64, Option<i64>, &StoredResponse)],
) -> Result<u64, DbErr> {
    if responses.is_empty() {
        return Ok(0);
    }
    let rows: Vec<ValueTuple> = responses
        .iter()
        .map(|(claim_id, order_id, response)| {
            ValueTuple::Many(vec![
                Value::from(*claim_id),
                Value::from(i32::from(response.status)),
                Value::from(response.body.clone()),
                Value::from(*order_id),
                Value::from(response.refund_id),
            ])
        })
        .collect();
    let v = || Alias::new("v");
    let col = |n: usize| Expr::col((v(), Alias::new(format!("column{n}"))));
    let update = Query::update()
        .table(Entity)
        .value(Column::ResponseStatus, col(2))
        .value(Column::ResponseBody, col(3))
        .value(Column::OrderId, col(4))
        .value(Column::RefundId, col(5))
        .value(Column::UpdatedAt, chrono::Utc::now().naive_utc())
        .from(TableRef::ValuesList(rows, v().into_iden()))
        .and_where(Expr::col((Entity, Column::Id)).eq(col(1)))
        .and_where(Expr::col((Entity, Column::ResponseStatus)).is_null())
        .to_owned();
    Ok(db.execute(&update).await?.rows_affected())
}
