//! Dead jobs: list them, and queue them again exactly as a fresh push would.
//!
//! apalis-redis 1.0 (`handle_results.lua`) kills a job by adding its id to
//! `{q}:dead` and writing `result`, `status`, `attempts` and `done_at` into
//! `{q}:meta:{id}`; the payload stays in `{q}:data`. A retry, in one script per
//! call, takes the id out of `:dead`, rewrites the metadata as our push does
//! (`attempts 0`, `status Pending`, the job's own `max_attempts` and
//! idempotency key, nothing else) and appends the id to `{q}:active`: the job
//! is never both dead and pending, and a caller dying mid-retry leaves it in
//! one place or the other.
//!
//! Before that, a retry reopens the rows the job left in a state its next run
//! would skip (see `revive`), so a retried job does its work. A discard
//! removes dead jobs from Redis and leaves their rows alone (see `discard`).
use axum::http::StatusCode;
use redis::RedisError;
use serde_json::{json, Value};

use crate::queue::queue_names;
use crate::settings::Settings;

mod by_order;
mod discard;
mod list;
mod retry;
mod revive;

pub use by_order::OrderJobKeys;
pub use discard::{discard, discard_all};
pub use list::{list, one, DeadJob, DeadJobs};
pub use retry::{retry, retry_all, RetryOutcome, RetryRequest, MAX_IDS};
pub use revive::revive;

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
fn requested_ids(ids: &[String]) -> Result<Vec<&String>, DeadJobError> {
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
fn payload_value(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into()))
}
