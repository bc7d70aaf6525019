//! The dead set of one queue as an operator addresses it: the queue's names,
//! the ids a request may carry, the errors a request can meet, and the scan
//! over the set. A leaf: `list`, `retry` and `discard` build on it.
use axum::http::StatusCode;
use redis::{aio::ConnectionLike, RedisError};
use serde_json::{json, Value};

use crate::queue::{queue_names, SLICE};
use crate::settings::Settings;

/// The most ids one retry request may name.
pub const MAX_IDS: usize = SLICE;

/// Why a dead-job request was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeadJobError {
    #[error("unknown queue `{0}`; queues: {queues}", queues = queue_names::ALL.join(", "))]
    UnknownQueue(String),
    #[error("{0}")]
    InvalidBody(String),
    #[error("invalid job id `{0}`: job ids are 1 to 64 letters, digits or dashes")]
    InvalidId(String),
    #[error("not dead jobs of this queue (nothing was retried): {}", .0.join(", "))]
    NotDead(Vec<String>),
    #[error("redis error: {0}")]
    Redis(#[from] RedisError),
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
}

impl DeadJobError {
    #[must_use]
    pub const fn status(&self) -> StatusCode {
        match self {
            Self::UnknownQueue(_) | Self::NotDead(_) => StatusCode::NOT_FOUND,
            Self::InvalidBody(_) | Self::InvalidId(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Redis(_) | Self::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::UnknownQueue(_) => "queue_not_found",
            Self::InvalidBody(_) => "invalid_body",
            Self::InvalidId(_) => "invalid_job_id",
            Self::NotDead(_) => "dead_job_not_found",
            Self::Redis(_) | Self::Database(_) => "internal_error",
        }
    }

    /// Extra fields of the JSON error.
    #[must_use]
    pub fn details(&self) -> Option<Value> {
        match self {
            Self::NotDead(ids) => Some(json!({ "missing": ids })),
            _ => None,
        }
    }
}

/// A product queue by its short name (`orders:workflow`), as the operator types it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatedQueue {
    pub short: &'static str,
    /// The Redis name, prefix included.
    pub full: String,
}

impl OperatedQueue {
    /// # Errors
    /// [`DeadJobError::UnknownQueue`] for anything but the four product queues.
    pub fn resolve(settings: &Settings, short: &str) -> Result<Self, DeadJobError> {
        queue_names::ALL
            .iter()
            .find(|q| **q == short)
            .map(|q| Self {
                short: q,
                full: settings.redis.key(q),
            })
            .ok_or_else(|| DeadJobError::UnknownQueue(short.to_string()))
    }
}

/// Checks an id's shape before it reaches Redis.
///
/// # Errors
/// [`DeadJobError::InvalidId`].
pub fn check_id(id: &str) -> Result<(), DeadJobError> {
    let ok =
        (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(DeadJobError::InvalidId(id.to_string()))
    }
}

/// The ids of a by-id request (retry or discard), each checked, once each, sorted.
///
/// # Errors
/// [`DeadJobError::InvalidBody`] for no ids or more than [`MAX_IDS`];
/// [`DeadJobError::InvalidId`] for a malformed one.
pub(super) fn requested_ids(ids: &[String]) -> Result<Vec<&String>, DeadJobError> {
    if ids.is_empty() {
        return Err(DeadJobError::InvalidBody("no job ids given".to_string()));
    }
    if ids.len() > MAX_IDS {
        return Err(DeadJobError::InvalidBody(format!(
            "at most {MAX_IDS} ids per request; use all"
        )));
    }
    for id in ids {
        check_id(id)?;
    }
    let mut unique: Vec<&String> = ids.iter().collect();
    unique.sort_unstable();
    unique.dedup();
    Ok(unique)
}

/// A stored payload as JSON (a string when it is not JSON).
pub(super) fn payload_value(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into()))
}

/// One `SSCAN` step of `{q}:dead`: the next cursor and the ids it returned.
pub(super) async fn scan_dead<C: ConnectionLike>(
    conn: &mut C,
    queue: &OperatedQueue,
    cursor: u64,
) -> Result<(u64, Vec<String>), DeadJobError> {
    let (next, mut ids): (u64, Vec<String>) = redis::cmd("SSCAN")
        .arg(format!("{}:dead", queue.full))
        .arg(cursor)
        .arg("COUNT")
        .arg(SLICE)
        .query_async(conn)
        .await?;
    ids.sort_unstable();
    ids.dedup();
    Ok((next, ids))
}
