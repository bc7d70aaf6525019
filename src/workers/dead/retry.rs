//! Queueing dead jobs again, in Lua so that a job is in exactly one place.
use std::sync::LazyLock;

use redis::{aio::ConnectionLike, Script};
use serde::{Deserialize, Serialize};

use super::{check_id, DeadJobError, OperatedQueue};
use crate::workers::scripts::SLICE;

/// The most ids one retry request may name.
pub const MAX_IDS: usize = SLICE;

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

/// One `SSCAN` step of `{q}:dead`: `{next cursor, requeued, skipped (no payload)}`.
static RETRY_SCAN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{REQUEUE_LUA}
local scan = redis.call('SSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local moved, skipped = 0, 0
for _, id in ipairs(scan[2]) do
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
return {{scan[1], moved, skipped}}
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
    queue: &OperatedQueue,
    ids: &[String],
) -> Result<u64, DeadJobError> {
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

/// Queues every dead job of `queue` again, a slice of the set per script call.
///
/// # Errors
/// Redis errors (the slices already moved stay moved).
pub async fn retry_all<C: ConnectionLike>(
    conn: &mut C,
    queue: &OperatedQueue,
) -> Result<RetryOutcome, DeadJobError> {
    let mut outcome = RetryOutcome::default();
    let mut cursor = 0u64;
    loop {
        let mut call = RETRY_SCAN.prepare_invoke();
        keys(&mut call, &queue.full);
        let (next, moved, skipped): (u64, u64, u64) =
            call.arg(cursor).arg(SLICE).invoke_async(conn).await?;
        outcome.retried += moved;
        outcome.skipped += skipped;
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
        queue: &OperatedQueue,
    ) -> Result<RetryOutcome, DeadJobError> {
        match self {
            Self::Ids(ids) => Ok(RetryOutcome {
                retried: retry(conn, queue, ids).await?,
                skipped: 0,
            }),
            Self::All => retry_all(conn, queue).await,
        }
    }
}

fn keys(call: &mut redis::ScriptInvocation<'_>, queue: &str) {
    for suffix in ["dead", "data", "active", "signal", "meta"] {
        call.key(format!("{queue}:{suffix}"));
    }
}
