//! Customer notifications: one row per (order, event), queued inside the caller's
//! transaction by [`queue_for`] and sent by the notification job (`workers/notify.rs`).
use std::time::Duration;

use chrono::Utc;
use sea_orm::{
    entity::prelude::*,
    sea_query::{ExprTrait, Query},
    ActiveValue::Set,
    QueryOrder, QuerySelect, TryInsertResult,
};
use serde::{Deserialize, Serialize};

pub use super::_entities::order_notifications::{ActiveModel, Column, Entity, Model};
use super::{
    customers, orders,
    statuses::{NotificationStatus, OrderStatus},
};

pub type OrderNotifications = Entity;

/// Values of `order_notifications.channel`.
pub mod channel {
    pub const LOG: &str = "log";
    pub const EMAIL: &str = "email";
}

#[async_trait::async_trait]
impl ActiveModelBehavior for ActiveModel {}

/// What a notification says, stored as JSON in `payload` when it is queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// The shop's order id, the one the customer knows.
    pub order_id: String,
    /// Our `orders.id`.
    pub internal_order_id: i64,
    /// The shop's customer id.
    pub customer_id: String,
    /// Order status when the notification was queued.
    pub status: OrderStatus,
    pub total_cents: i64,
    pub currency: String,
    pub reason: Option<String>,
    /// Recipient, on the email channel only (the address used, even if it changes later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// Queues the notification of `event` for `order` (as it is after the transition:
/// its status goes into the payload) in the caller's transaction.
///
/// The channel is `email` when `channel_email_enabled` and the customer has a
/// usable address, `log` otherwise. `reason` defaults to the order's failure
/// reason. Returns the new row id, or `None` when this (order, event) was
/// already queued: push a `NotificationJob` for `Some(id)` once the transaction
/// has committed.
///
/// # Errors
/// Database errors, or an order whose customer row is missing.
pub async fn queue_for<C: ConnectionTrait>(
    db: &C,
    order: &orders::Model,
    event: &str,
    reason: Option<&str>,
    channel_email_enabled: bool,
) -> Result<Option<i64>, DbErr> {
    let customer = customers::Entity::find_by_id(order.customer_id)
        .one(db)
        .await?
        .ok_or_else(|| {
            DbErr::RecordNotFound(format!(
                "customer {} of order {}",
                order.customer_id, order.id
            ))
        })?;
    let row = Queued::of(order, &customer, event, reason, channel_email_enabled)?
        .into_row(Utc::now().naive_utc());
    // The unique (order_id, event) index makes a second row impossible; DO NOTHING
    // keeps the caller's transaction usable when it was already there.
    let inserted = Entity::insert(row)
        .on_conflict_do_nothing_on([Column::OrderId, Column::Event])
        .exec(db)
        .await?;
    Ok(match inserted {
        TryInsertResult::Inserted(result) => Some(result.last_insert_id),
        TryInsertResult::Conflicted | TryInsertResult::Empty => None,
    })
}

/// [`queue_for`] for many orders at once (the batched workflow): `events`
/// pairs each order with its event, so a batch that paid some orders and failed
/// others queues them in one statement. `customers` must hold every order's
/// customer. Returns the ids of the rows of these orders and events that are
/// still `queued` (new ones, and any left from a crash).
///
/// `first`, a statement of the caller's (the batch's KPI events), runs just
/// before the insert and in the same round trip where the database allows it
/// ([`super::sql::query_all_after`]).
///
/// # Errors
/// Database errors, or a customer missing from `customers`.
pub async fn queue_many<C: ConnectionTrait>(
    db: &C,
    events: &[(&str, &orders::Model)],
    customers: &std::collections::HashMap<i64, customers::Model>,
    channel_email_enabled: bool,
    first: Option<sea_orm::Statement>,
) -> Result<Vec<i64>, DbErr> {
    if events.is_empty() {
        if let Some(first) = first {
            db.execute_raw(first).await?;
        }
        return Ok(Vec::new());
    }
    let now = Utc::now().naive_utc();
    let rows: Vec<ActiveModel> = Queued::of_many(events, customers, channel_email_enabled)?
        .into_iter()
        .map(|queued| queued.into_row(now))
        .collect();
    let insert = insert_of(db, &rows)?;
    let inserted = match first {
        Some(first) => super::sql::query_all_after(db, first, insert).await?,
        None => db.query_all_raw(insert).await?,
    };
    // Every row new (the usual case): they are all queued, and their ids
    // are here already. Otherwise some rows existed (a rerun) and the
    // query below finds those still queued too.
    if inserted.len() == events.len() {
        return inserted
            .iter()
            .map(|row| row.try_get_by_index::<i64>(0))
            .collect();
    }
    let wanted: std::collections::HashSet<(i64, &str)> =
        events.iter().map(|&(event, o)| (o.id, event)).collect();
    let queued: Vec<(i64, i64, String)> = Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::OrderId)
        .column(Column::Event)
        .filter(super::sql::id_in(
            db.get_database_backend(),
            Column::OrderId,
            events.iter().map(|(_, o)| o.id),
        ))
        .filter(Column::Status.eq(NotificationStatus::Queued))
        .into_tuple()
        .all(db)
        .await?;
    Ok(queued
        .into_iter()
        .filter(|(_, order, event)| wanted.contains(&(*order, event.as_str())))
        .map(|(id, _, _)| id)
        .collect())
}

/// The multi-row insert of [`queue_many`], one array per column on
/// PostgreSQL (see `models::sql`), returning the ids of the rows it added.
fn insert_of<C: ConnectionTrait>(
    db: &C,
    rows: &[ActiveModel],
) -> Result<sea_orm::Statement, DbErr> {
    use sea_orm::{sea_query::ArrayType, IdenStatic, Value};
    const COLUMNS: [(Column, &str, ArrayType); 8] = [
        (Column::OrderId, "int8", ArrayType::BigInt),
        (Column::Event, "text", ArrayType::String),
        (Column::Channel, "text", ArrayType::String),
        (Column::Status, "text", ArrayType::String),
        (Column::Payload, "text", ArrayType::String),
        (Column::Attempts, "int4", ArrayType::Int),
        (Column::CreatedAt, "timestamp", ArrayType::ChronoDateTime),
        (Column::UpdatedAt, "timestamp", ArrayType::ChronoDateTime),
    ];
    let value = |row: &ActiveModel, column: Column| {
        row.get(column)
            .into_value()
            .ok_or_else(|| DbErr::Custom(format!("notification row without {}", column.as_str())))
    };
    let values = rows
        .iter()
        .map(|row| {
            let mut missing = None;
            let cells = COLUMNS.map(|(column, _, _)| {
                value(row, column).unwrap_or_else(|e| {
                    missing.get_or_insert(e);
                    Value::Int(None)
                })
            });
            missing.map_or(Ok(cells), Err)
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    let columns = COLUMNS.map(|(column, sql_type, ty)| (column.as_str(), sql_type, ty));
    Ok(super::sql::Dialect::of(db).insert_rows(
        "order_notifications",
        &columns,
        "ON CONFLICT (order_id, event) DO NOTHING RETURNING id",
        values,
    ))
}

/// What one new notification row holds besides its status, attempts and
/// times: the notification of `event` on an order, to its customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub order_id: i64,
    pub event: String,
    /// [`channel::EMAIL`] or [`channel::LOG`].
    pub channel: &'static str,
    /// [`Payload`] as JSON: the text stored, byte for byte.
    pub payload: String,
}

impl Queued {
    /// The notification of `event` on `order` (as it is after the transition:
    /// its status goes into the payload) to `customer`. The channel is `email`
    /// when `channel_email_enabled` and the customer has a usable address,
    /// `log` otherwise. `reason` defaults to the order's failure reason.
    ///
    /// # Errors
    /// A payload that cannot be written as JSON.
    pub fn of(
        order: &orders::Model,
        customer: &customers::Model,
        event: &str,
        reason: Option<&str>,
        channel_email_enabled: bool,
    ) -> Result<Self, DbErr> {
        let email = customer
            .email
            .as_deref()
            .and_then(usable_email)
            .filter(|_| channel_email_enabled);
        let payload = Payload {
            order_id: order.external_id.clone(),
            internal_order_id: order.id,
            customer_id: customer.external_id.clone(),
            status: order.status,
            total_cents: order.total_cents,
            currency: order.currency.clone(),
            reason: reason
                .map(str::to_owned)
                .or_else(|| order.failure_reason.map(|r| r.as_str().to_owned())),
            email: email.map(str::to_owned),
        };
        Ok(Self {
            order_id: order.id,
            event: event.to_owned(),
            channel: if email.is_some() {
                channel::EMAIL
            } else {
                channel::LOG
            },
            payload: serde_json::to_string(&payload).map_err(|e| DbErr::Json(e.to_string()))?,
        })
    }

    /// [`Self::of`] for each `(event, order)` of a batch; `customers` must
    /// hold every order's customer.
    ///
    /// # Errors
    /// A customer missing from `customers`, or a payload that cannot be written.
    pub fn of_many(
        events: &[(&str, &orders::Model)],
        customers: &std::collections::HashMap<i64, customers::Model>,
        channel_email_enabled: bool,
    ) -> Result<Vec<Self>, DbErr> {
        events
            .iter()
            .map(|&(event, order)| {
                let customer = customers.get(&order.customer_id).ok_or_else(|| {
                    DbErr::RecordNotFound(format!(
                        "customer {} of order {}",
                        order.customer_id, order.id
                    ))
                })?;
                Self::of(order, customer, event, None, channel_email_enabled)
            })
            .collect()
    }

    /// The `queued` row, created at `now`.
    fn into_row(self, now: chrono::NaiveDateTime) -> ActiveModel {
        ActiveModel {
            order_id: Set(self.order_id),
            event: Set(self.event),
            channel: Set(self.channel.to_owned()),
            status: Set(NotificationStatus::Queued),
            payload: Set(self.payload),
            attempts: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
    }
}

/// Ids of notifications still `queued` and untouched for `older_than` (their job
/// was lost: Redis flushed, worker killed), for the recovery sweep to push again.
///
/// They are touched in the same statement, so a second sweep before their jobs
/// run does not push them twice.
///
/// # Errors
/// Database errors.
pub async fn requeue_stale<C: ConnectionTrait>(
    db: &C,
    older_than: Duration,
) -> Result<Vec<i64>, DbErr> {
    let now = Utc::now().naive_utc();
    let cutoff = chrono::TimeDelta::from_std(older_than)
        .ok()
        .and_then(|age| now.checked_sub_signed(age))
        .unwrap_or(chrono::NaiveDateTime::MIN);
    let stmt = Query::update()
        .table(Entity)
        .value(Column::UpdatedAt, now)
        .and_where(Column::Status.eq(NotificationStatus::Queued))
        .and_where(Column::UpdatedAt.lt(cutoff))
        .returning_col(Column::Id)
        .to_owned();
    let rows = db.query_all(&stmt).await?;
    rows.iter()
        .map(|row| row.try_get::<i64>("", "id"))
        .collect()
}

impl Entity {
    /// The notifications of one order, oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn for_order<C: ConnectionTrait>(db: &C, order_id: i64) -> Result<Vec<Model>, DbErr> {
        Self::find()
            .filter(Column::OrderId.eq(order_id))
            .order_by_asc(Column::Id)
            .all(db)
            .await
    }

    /// Ids of one order's rows still `queued`, optionally of one event only: a
    /// crash between commit and push leaves them for the next run to queue.
    ///
    /// # Errors
    /// Database errors.
    pub async fn queued_ids<C: ConnectionTrait>(
        db: &C,
        order_id: i64,
        event: Option<&str>,
    ) -> Result<Vec<i64>, DbErr> {
        let mut query = Self::find()
            .select_only()
            .column(Column::Id)
            .filter(Column::OrderId.eq(order_id))
            .filter(Column::Status.eq(NotificationStatus::Queued));
        if let Some(event) = event {
            query = query.filter(Column::Event.eq(event));
        }
        query.order_by_asc(Column::Id).into_tuple().all(db).await
    }

    /// `queued` → `sent`. False when the row was no longer queued.
    ///
    /// # Errors
    /// Database errors.
    pub async fn mark_sent<C: ConnectionTrait>(db: &C, id: i64) -> Result<bool, DbErr> {
        let now = Utc::now();
        let result = Self::update_many()
            .col_expr(Column::Status, Expr::value(NotificationStatus::Sent))
            .col_expr(Column::SentAt, Expr::value(now.fixed_offset()))
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
            .col_expr(Column::UpdatedAt, Expr::value(now.naive_utc()))
            .filter(Column::Id.eq(id))
            .filter(Column::Status.eq(NotificationStatus::Queued))
            .exec(db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// `failed` → `queued` with its attempts back to 0, for a retried dead job
    /// (see `workers::dead::revive`). Rows `sent` or still `queued` are not
    /// touched; the last error stays, as history. Returns the rows reopened.
    ///
    /// # Errors
    /// Database errors.
    pub async fn reopen_failed<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<u64, DbErr> {
        let result = Self::update_many()
            .col_expr(Column::Status, Expr::value(NotificationStatus::Queued))
            .col_expr(Column::Attempts, Expr::value(0))
            .col_expr(Column::UpdatedAt, Expr::value(Utc::now().naive_utc()))
            .filter(crate::models::sql::id_in(
                db.get_database_backend(),
                Column::Id,
                ids.iter().copied(),
            ))
            .filter(Column::Status.eq(NotificationStatus::Failed))
            .exec(db)
            .await?;
        Ok(result.rows_affected)
    }

    /// Records a failed attempt on a `queued` row; with `give_up` the row becomes
    /// `failed`. False when the row was no longer queued.
    ///
    /// # Errors
    /// Database errors.
    pub async fn record_failure<C: ConnectionTrait>(
        db: &C,
        id: i64,
        error: &str,
        give_up: bool,
    ) -> Result<bool, DbErr> {
        let mut update = Self::update_many()
            .col_expr(Column::Error, Expr::value(truncate(error, 2000)))
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
            .col_expr(Column::UpdatedAt, Expr::value(Utc::now().naive_utc()));
        if give_up {
            update = update.col_expr(Column::Status, Expr::value(NotificationStatus::Failed));
        }
        let result = update
            .filter(Column::Id.eq(id))
            .filter(Column::Status.eq(NotificationStatus::Queued))
            .exec(db)
            .await?;
        Ok(result.rows_affected == 1)
    }
}

/// An address worth handing to SMTP; anything else falls back to the log channel.
fn usable_email(email: &str) -> Option<&str> {
    let email = email.trim();
    let (local, domain) = email.split_once('@')?;
    let plausible = !local.is_empty() && !domain.is_empty() && !email.contains(char::is_whitespace);
    plausible.then_some(email)
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
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
