//! Queueing dead jobs again, in Lua so that a job is in exactly one place.
use std::sync::LazyLock;

use redis::{aio::ConnectionLike, Script};
use serde::{Deserialize, Serialize};

use sea_orm::DatabaseConnection;
use serde_json::Value;

use super::{
    dead_set::{payload_value, requested_ids, scan_dead, DeadJobError, OperatedQueue},
    discard::{discard, discard_all},
    revive::revive,
};

/// Shared by both scripts. KEYS: `{q}:dead`, `{q}:data`, `{q}:active`,
/// `{q}:signal`, `{q}:meta` (prefix). 25 is apalis-redis's own default.
const REQUEUE_LUA: &str = r"
local function requeue(id)
  local mk = KEYS[5] .. ':' .. id
  local max_attempts = redis.call('HGET', mk, 'max_attempts') or '25'
  local idem = redis.call('HGET', mk, 'idempotency_key') or ''
  redis.call('SREM', KEYS[1], id)
  redis.call('DEL', mk)
  redis.call('HSET', mk, 'attempts', 0, 'max_attempts', max_attempts,
    'status', 'Pending', 'idempotency_key', idem)
  redis.call('RPUSH', KEYS[3], id)
end
local function signal()
  redis.call('DEL', KEYS[4])
  redis.call('LPUSH', KEYS[4], 1)
end
";

/// All or nothing: `{0, missing}` when an id is not a dead job with a payload.
static RETRY_IDS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{REQUEUE_LUA}
local missing = {{}}
for _, id in ipairs(ARGV) do
  if redis.call('SISMEMBER', KEYS[1], id) == 0 or redis.call('HEXISTS', KEYS[2], id) == 0 then
    missing[#missing + 1] = id
  end
end
if #missing > 0 then return {{0, missing}} end
for _, id in ipairs(ARGV) do requeue(id) end
if #ARGV > 0 then signal() end
return {{#ARGV, {{}}}}
"
    ))
});

/// Requeues each id still dead with a payload, skips the others:
/// `{requeued, skipped}`. Used by "all", slice by slice.
static RETRY_SOME: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{REQUEUE_LUA}
local moved, skipped = 0, 0
for _, id in ipairs(ARGV) do
  if redis.call('SISMEMBER', KEYS[1], id) == 1 then
    if redis.call('HEXISTS', KEYS[2], id) == 1 then
      requeue(id)
      moved = moved + 1
    else
      skipped = skipped + 1
    end
  end
end
if moved > 0 then signal() end
return {{moved, skipped}}
"
    ))
});

/// Queues the dead jobs `ids` again, all or none.
///
/// # Errors
/// An empty or malformed id list, an id that is not a dead job of the queue
/// (then nothing moves), or Redis.
pub async fn retry<C: ConnectionLike>(
    conn: &mut C,
    db: &DatabaseConnection,
    queue: &OperatedQueue,
    ids: &[String],
) -> Result<u64, DeadJobError> {
    let unique = requested_ids(ids)?;
    // Checked here too (the script checks again): rows are reopened only for
    // jobs that are really dead, and a refused request changes nothing.
    let payloads = dead_payloads(conn, queue, &unique).await?;
    let missing: Vec<String> = unique
        .iter()
        .zip(&payloads)
        .filter(|(_, p)| p.is_none())
        .map(|(id, _)| (*id).clone())
        .collect();
    if !missing.is_empty() {
        return Err(DeadJobError::NotDead(missing));
    }
    let payloads: Vec<_> = payloads.into_iter().flatten().collect();
    revive(db, queue.short, &payloads).await?;
    let mut call = RETRY_IDS.prepare_invoke();
    keys(&mut call, &queue.full);
    for id in unique {
        call.arg(id);
    }
    let (moved, missing): (u64, Vec<String>) = call.invoke_async(conn).await?;
    if missing.is_empty() {
        Ok(moved)
    } else {
        Err(DeadJobError::NotDead(missing))
    }
}

/// What a retry did.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct RetryOutcome {
    pub retried: u64,
    /// Ids left in the dead set because their payload is gone (they cannot run).
    pub skipped: u64,
}

/// Queues every dead job of `queue` again, a slice of the set at a time:
/// its rows reopened, then its ids requeued by one script.
///
/// # Errors
/// Database or Redis errors (the slices already moved stay moved).
pub async fn retry_all<C: ConnectionLike>(
    conn: &mut C,
    db: &DatabaseConnection,
    queue: &OperatedQueue,
) -> Result<RetryOutcome, DeadJobError> {
    let mut outcome = RetryOutcome::default();
    let mut cursor = 0u64;
    loop {
        let (next, ids) = scan_dead(conn, queue, cursor).await?;
        if !ids.is_empty() {
            let refs: Vec<&String> = ids.iter().collect();
            let payloads: Vec<_> = dead_payloads(conn, queue, &refs)
                .await?
                .into_iter()
                .flatten()
                .collect();
            revive(db, queue.short, &payloads).await?;
            let mut call = RETRY_SOME.prepare_invoke();
            keys(&mut call, &queue.full);
            for id in &ids {
                call.arg(id);
            }
            let (moved, skipped): (u64, u64) = call.invoke_async(conn).await?;
            outcome.retried += moved;
            outcome.skipped += skipped;
        }
        cursor = next;
        if cursor == 0 {
            return Ok(outcome);
        }
    }
}

/// Which dead jobs to queue again: `{"ids": [...]}` or `{"all": true}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryRequest {
    Ids(Vec<String>),
    All,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    ids: Option<Vec<String>>,
    all: Option<bool>,
}

impl RetryRequest {
    /// Reads a JSON request body.
    ///
    /// # Errors
    /// [`DeadJobError::InvalidBody`] for anything but exactly one of a non-empty
    /// `ids` list of strings or `"all": true`.
    pub fn from_json(body: &[u8]) -> Result<Self, DeadJobError> {
        let body: Body = serde_json::from_slice(body).map_err(|e| {
            DeadJobError::InvalidBody(format!(
                "expected {{\"ids\": [\"job id\", …]}} or {{\"all\": true}}: {e}"
            ))
        })?;
        match (body.ids, body.all) {
            (Some(ids), None) => Ok(Self::Ids(ids)),
            (None, Some(true)) => Ok(Self::All),
            (None, Some(false)) => Err(DeadJobError::InvalidBody(
                "`all` must be true (or give `ids`)".to_string(),
            )),
            (Some(_), Some(_)) => Err(DeadJobError::InvalidBody(
                "give either `ids` or `all`, not both".to_string(),
            )),
            (None, None) => Err(DeadJobError::InvalidBody(
                "give `ids` or `\"all\": true`".to_string(),
            )),
        }
    }

    /// Runs the request against `queue`.
    ///
    /// # Errors
    /// See [`retry`] and [`retry_all`].
    pub async fn run<C: ConnectionLike>(
        &self,
        conn: &mut C,
        db: &DatabaseConnection,
        queue: &OperatedQueue,
    ) -> Result<RetryOutcome, DeadJobError> {
        match self {
            Self::Ids(ids) => Ok(RetryOutcome {
                retried: retry(conn, db, queue, ids).await?,
                skipped: 0,
            }),
            Self::All => retry_all(conn, db, queue).await,
        }
    }

    /// Discards the request's dead jobs (see [`super::discard`]).
    ///
    /// # Errors
    /// See [`super::discard::discard`].
    pub async fn discard<C: ConnectionLike>(
        &self,
        conn: &mut C,
        queue: &OperatedQueue,
    ) -> Result<u64, DeadJobError> {
        match self {
            Self::Ids(ids) => discard(conn, queue, ids).await,
            Self::All => discard_all(conn, queue).await,
        }
    }
}

/// For each id, its payload if it is a dead job of `queue` with one.
async fn dead_payloads<C: ConnectionLike>(
    conn: &mut C,
    queue: &OperatedQueue,
    ids: &[&String],
) -> Result<Vec<Option<Value>>, DeadJobError> {
    let mut pipe = redis::pipe();
    for id in ids {
        pipe.cmd("SISMEMBER")
            .arg(format!("{}:dead", queue.full))
            .arg(id)
            .cmd("HGET")
            .arg(format!("{}:data", queue.full))
            .arg(id);
    }
    let answers: Vec<(bool, Option<Vec<u8>>)> = pipe.query_async(conn).await?;
    Ok(answers
        .into_iter()
        .map(|(dead, data)| data.filter(|_| dead).map(|bytes| payload_value(&bytes)))
        .collect())
}

fn keys(call: &mut redis::ScriptInvocation<'_>, queue: &str) {
    for suffix in ["dead", "data", "active", "signal", "meta"] {
        call.key(format!("{queue}:{suffix}"));
    }
}
