//! Our own Lua over apalis-redis's key layout (`{q}:active`, `{q}:data`, `{q}:meta:{id}`, …).
//!
//! apalis-redis 1.0 sends every push to `{q}:scheduled`, and its fetch promotes all
//! due ids with one `RPUSH unpack(ids)`: past ~8,000 queued jobs that call fails and
//! the worker stops (DEPENDENCIES.md). So jobs are pushed straight onto
//! `{q}:active` here, anything that does land in `:scheduled` (retries) is promoted
//! in slices, and finished jobs are deleted in slices. Every script touches at most
//! [`SLICE`] ids, so none blocks Redis for long.
use std::sync::LazyLock;

use redis::{aio::ConnectionLike, RedisResult, Script};

/// Most ids one script call handles: far below Lua's unpack limit.
pub const SLICE: usize = 1000;

/// Writes exactly what apalis-redis's `batch_push.lua` writes for an immediate task.
static ENQUEUE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: {q}:data, {q}:active, {q}:signal, {q}:meta (prefix)
-- ARGV: max_attempts, then pairs of task id and JSON payload
local pushed = {}
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('HSETNX', KEYS[1], id, ARGV[i + 1]) == 1 then
    redis.call('HSET', KEYS[4] .. ':' .. id,
      'attempts', 0, 'max_attempts', ARGV[1], 'status', 'Pending', 'idempotency_key', '')
    pushed[#pushed + 1] = id
  end
end
if #pushed > 0 then
  redis.call('RPUSH', KEYS[2], unpack(pushed))
  redis.call('DEL', KEYS[3])
  redis.call('LPUSH', KEYS[3], 1)
end
return #pushed
",
    )
});

/// Moves due ids from `{q}:scheduled` to `{q}:active`, a slice at a time.
static PROMOTE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: {q}:scheduled, {q}:active, {q}:signal; ARGV: now (unix seconds), limit
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #ids > 0 then
  redis.call('RPUSH', KEYS[2], unpack(ids))
  redis.call('ZREM', KEYS[1], unpack(ids))
  redis.call('DEL', KEYS[3])
  redis.call('LPUSH', KEYS[3], 1)
end
return #ids
",
    )
});

/// Deletes finished jobs (only ids in `:done`/`:dead`, never queued or running ones).
static REAP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: {q}:done or {q}:dead, {q}:data, {q}:meta (prefix); ARGV: ids to look at, cutoff
local ids = redis.call('SRANDMEMBER', KEYS[1], tonumber(ARGV[1]))
local n = 0
for _, id in ipairs(ids) do
  local mk = KEYS[3] .. ':' .. id
  local done_at = tonumber(redis.call('HGET', mk, 'done_at') or '0') or 0
  if done_at <= tonumber(ARGV[2]) then
    redis.call('SREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    redis.call('DEL', mk)
    n = n + 1
  end
end
return n
",
    )
});

/// Deletes a slice of finished jobs whatever their age (a queue that keeps none):
/// `SPOP` removes them from the set, and one `HDEL` and one `DEL` drop their
/// payloads and metadata. Measured at 1,000,000 orders, the per-id `HGET` of the
/// finish time and `SREM` of [`REAP`] were about 3 of the ~20 Redis commands
/// per order, and `SRANDMEMBER` cost 2 ms per call.
static REAP_ALL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: {q}:done or {q}:dead, {q}:data, {q}:meta (prefix); ARGV: most ids to delete
local ids = redis.call('SPOP', KEYS[1], tonumber(ARGV[1]))
if #ids > 0 then
  redis.call('HDEL', KEYS[2], unpack(ids))
  local metas = {}
  for i, id in ipairs(ids) do metas[i] = KEYS[3] .. ':' .. id end
  redis.call('DEL', unpack(metas))
end
return #ids
",
    )
});

/// Enqueues `(id, payload)` pairs onto the active list; returns how many were new.
pub async fn enqueue<C: ConnectionLike>(
    conn: &mut C,
    queue: &str,
    max_attempts: usize,
    jobs: &[(String, Vec<u8>)],
) -> RedisResult<u64> {
    let mut total = 0;
    for slice in jobs.chunks(SLICE) {
        let mut call = ENQUEUE.prepare_invoke();
        call.key(format!("{queue}:data"))
            .key(format!("{queue}:active"))
            .key(format!("{queue}:signal"))
            .key(format!("{queue}:meta"))
            .arg(max_attempts);
        for (id, payload) in slice {
            call.arg(id).arg(payload.as_slice());
        }
        total += call.invoke_async::<u64>(conn).await?;
    }
    Ok(total)
}

/// Promotes every due scheduled id, a slice per call; returns how many moved.
pub async fn promote_due<C: ConnectionLike>(conn: &mut C, queue: &str) -> RedisResult<u64> {
    let mut total = 0;
    loop {
        let moved: u64 = PROMOTE
            .key(format!("{queue}:scheduled"))
            .key(format!("{queue}:active"))
            .key(format!("{queue}:signal"))
            .arg(unix_now())
            .arg(SLICE)
            .invoke_async(conn)
            .await?;
        total += moved;
        if moved < SLICE as u64 {
            return Ok(total);
        }
    }
}

/// Deletes up to one slice of jobs from `{q}:{set}` finished before `cutoff`
/// (unix seconds), or of any finished job when `cutoff` is `None`.
pub async fn reap<C: ConnectionLike>(
    conn: &mut C,
    queue: &str,
    set: &str,
    cutoff: Option<u64>,
) -> RedisResult<u64> {
    let mut call = match cutoff {
        Some(_) => REAP.prepare_invoke(),
        None => REAP_ALL.prepare_invoke(),
    };
    call.key(format!("{queue}:{set}"))
        .key(format!("{queue}:data"))
        .key(format!("{queue}:meta"))
        .arg(SLICE);
    if let Some(cutoff) = cutoff {
        call.arg(cutoff);
    }
    call.invoke_async(conn).await
}

/// Most slices one pass of [`reap_expired`] deletes (per queue).
const MAX_REAP_SLICES: usize = 50;

/// Deletes the jobs of `{q}:{set}` finished before `cutoff` (all of them when
/// `None`), a slice per call, until a slice finds mostly recent jobs (or after
/// [`MAX_REAP_SLICES`]). One slice every few seconds (the first version)
/// deleted 200 jobs/s per process while a fast run finishes thousands: the
/// retention never caught up.
///
/// # Errors
/// Redis errors.
pub async fn reap_expired<C: ConnectionLike>(
    conn: &mut C,
    queue: &str,
    set: &str,
    cutoff: Option<u64>,
) -> RedisResult<u64> {
    let mut total = 0;
    for _ in 0..MAX_REAP_SLICES {
        let removed = reap(conn, queue, set, cutoff).await?;
        total += removed;
        if removed < (SLICE / 2) as u64 {
            break;
        }
    }
    Ok(total)
}

/// Seconds since the epoch, as apalis-redis scores its sets.
#[must_use]
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
