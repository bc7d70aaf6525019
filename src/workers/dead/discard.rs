//! Discarding dead jobs: the operator gives up on them for good.
//!
//! A discarded job leaves Redis entirely (its id from `{q}:dead`, its
//! metadata and its payload), so it can no longer be listed or retried. Its
//! database rows stay exactly as the job left them (a notification `failed`,
//! a refund `pending`, an order where it stopped): discarding is about the
//! queue, and the rows keep the evidence of what happened.
use std::sync::LazyLock;

use redis::{aio::ConnectionLike, Script};

use super::dead_set::{requested_ids, scan_dead, DeadJobError, OperatedQueue};

/// KEYS: `{q}:dead`, `{q}:data`, `{q}:meta` (prefix).
const REMOVE_LUA: &str = r"
local function remove(id)
  redis.call('SREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('DEL', KEYS[3] .. ':' .. id)
end
";

/// All or nothing: `{0, missing}` when an id is not a dead job.
static DISCARD_IDS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{REMOVE_LUA}
local missing = {{}}
for _, id in ipairs(ARGV) do
  if redis.call('SISMEMBER', KEYS[1], id) == 0 then missing[#missing + 1] = id end
end
if #missing > 0 then return {{0, missing}} end
for _, id in ipairs(ARGV) do remove(id) end
return {{#ARGV, {{}}}}
"
    ))
});

/// Removes the ids of ARGV that are still dead; returns how many.
static DISCARD_SOME: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{REMOVE_LUA}
local removed = 0
for _, id in ipairs(ARGV) do
  if redis.call('SISMEMBER', KEYS[1], id) == 1 then
    remove(id)
    removed = removed + 1
  end
end
return removed
"
    ))
});

/// Discards the dead jobs `ids`, all or none.
///
/// # Errors
/// An empty or malformed id list, an id that is not a dead job of the queue
/// (then nothing is removed), or Redis.
pub async fn discard<C: ConnectionLike>(
    conn: &mut C,
    queue: &OperatedQueue,
    ids: &[String],
) -> Result<u64, DeadJobError> {
    let unique = requested_ids(ids)?;
    let mut call = DISCARD_IDS.prepare_invoke();
    keys(&mut call, &queue.full);
    for id in unique {
        call.arg(id);
    }
    let (removed, missing): (u64, Vec<String>) = call.invoke_async(conn).await?;
    if missing.is_empty() {
        Ok(removed)
    } else {
        Err(DeadJobError::NotDead(missing))
    }
}

/// Discards every dead job of `queue`, a slice of the set per script call.
///
/// # Errors
/// Redis errors (the slices already removed stay removed).
pub async fn discard_all<C: ConnectionLike>(
    conn: &mut C,
    queue: &OperatedQueue,
) -> Result<u64, DeadJobError> {
    let mut removed = 0;
    let mut cursor = 0u64;
    loop {
        let (next, ids) = scan_dead(conn, queue, cursor).await?;
        if !ids.is_empty() {
            let mut call = DISCARD_SOME.prepare_invoke();
            keys(&mut call, &queue.full);
            for id in &ids {
                call.arg(id);
            }
            let n: u64 = call.invoke_async(conn).await?;
            removed += n;
        }
        cursor = next;
        if cursor == 0 {
            return Ok(removed);
        }
    }
}

fn keys(call: &mut redis::ScriptInvocation<'_>, queue: &str) {
    for suffix in ["dead", "data", "meta"] {
        call.key(format!("{queue}:{suffix}"));
    }
}
