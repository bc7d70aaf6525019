//! The figures in Redis: key names and the Lua that changes them atomically.
//!
//! Keys (all under `settings.redis.prefix`):
//! - `kpi:day:{date}`: hash `revenue_cents`, `order_count`, `failed_count`,
//!   `refund_count`, `refunded_cents`;
//! - `kpi:lb:all` and `kpi:lb:day:{date}`: sorted sets, customer external id →
//!   net revenue in cents;
//! - `kpi:seen:{event_id / 8192}`: which events were already applied (the
//!   at-most-once guard), one bit per event id in a string of at most 1 KB,
//!   expiring after [`GUARD_TTL_SECS`]. Versions before bitmaps kept integer
//!   sets of 500 ids as `kpi:applied:{event_id / 500}`; those are still read
//!   (see `GUARD_LUA`) until they expire;
//! - `kpi:rebuild`: held while `kpi_rebuild` swaps figures in; applying waits.
//!
//! Keys are built inside the scripts from the prefix, so this needs a single
//! Redis node (or Sentinel), as apalis-redis does.
use std::sync::LazyLock;

use redis::{aio::ConnectionLike, RedisResult, Script};

/// Ids per guard bitmap: 8,192 bits, a 1 KB string (allocated with room to
/// grow: about 1.9 KB a full key). Measured in a 5,800 orders/s stream: 0.24
/// bytes per event, where the integer sets it replaces took 4.4 (about 30 MB
/// instead of 540 over the 6 h they are kept; BENCHMARKS.md, session 16).
pub const GUARD_BUCKET: i64 = 8192;
/// How long an applied id is remembered. The outbox cursor moves past an
/// event right after it is applied here (and a rebuild lists what it counted
/// in `kpi_skips`), so the guard only has to outlive a crashed or slow drainer.
pub const GUARD_TTL_SECS: i64 = 6 * 3600;

/// Applies a batch of events. ARGV: prefix, guard bucket, guard ttl, then
/// groups of (event id, kind, cents, customer, day). Returns how many were new,
/// or -1 (nothing applied) while a rebuild holds the lock.
///
/// A guard's TTL is set once per call, not once per event: a batch of 2,000
/// events in id order touches about five guards, and the per-event `EXPIRE`
/// was one of Redis's most frequent commands (300,000 per 300,000 orders).
static APPLY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{GUARD_LUA}
local p = ARGV[1]
if redis.call('EXISTS', p .. ':kpi:rebuild') == 1 then return -1 end
local bucket, ttl = tonumber(ARGV[2]), tonumber(ARGV[3])
local applied = 0
for i = 4, #ARGV, 5 do
  local id, kind, cents, customer, day = ARGV[i], ARGV[i+1], tonumber(ARGV[i+2]), ARGV[i+3], ARGV[i+4]
  if first_time(p, bucket, ttl, id) then
    local h = p .. ':kpi:day:' .. day
    if kind == 'order_paid' then
      redis.call('HINCRBY', h, 'revenue_cents', cents)
      redis.call('HINCRBY', h, 'order_count', 1)
      redis.call('ZINCRBY', p .. ':kpi:lb:all', cents, customer)
      redis.call('ZINCRBY', p .. ':kpi:lb:day:' .. day, cents, customer)
    elseif kind == 'order_failed' then
      redis.call('HINCRBY', h, 'failed_count', 1)
    elseif kind == 'refund_processed' then
      redis.call('HINCRBY', h, 'revenue_cents', cents)
      redis.call('HINCRBY', h, 'refund_count', 1)
      redis.call('HINCRBY', h, 'refunded_cents', -cents)
      redis.call('ZINCRBY', p .. ':kpi:lb:all', cents, customer)
      redis.call('ZINCRBY', p .. ':kpi:lb:day:' .. day, cents, customer)
    end
    applied = applied + 1
  end
end
return applied
"
    ))
});

/// Lua shared by the scripts that record applied ids: `first_time(prefix,
/// bucket, ttl, id)` sets `id`'s bit in its guard and says whether it was new.
/// A guard's TTL is set once per script call, not once per id.
///
/// An id is also looked up in the integer-set guard an earlier version may
/// have written (`kpi:applied:{id / 500}`): an event applied just before an
/// upgrade, whose cursor had not yet moved past it, must not count twice.
/// Whether such a set exists is asked once per set per call, so after the
/// sets have expired (at most [`GUARD_TTL_SECS`] after the upgrade) this
/// costs a few `EXISTS` per batch.
pub(super) const GUARD_LUA: &str = r"
local refreshed, legacy = {}, {}
local function first_time(p, bucket, ttl, id)
  local n = tonumber(id)
  local guard = p .. ':kpi:seen:' .. math.floor(n / bucket)
  if redis.call('SETBIT', guard, n % bucket, 1) == 1 then return false end
  if not refreshed[guard] then
    redis.call('EXPIRE', guard, ttl)
    refreshed[guard] = true
  end
  local old = p .. ':kpi:applied:' .. math.floor(n / 500)
  if legacy[old] == nil then legacy[old] = redis.call('EXISTS', old) == 1 end
  return not (legacy[old] and redis.call('SISMEMBER', old, id) == 1)
end
";

/// One event as the scripts see it.
#[derive(Debug, Clone)]
pub struct EventArgs {
    pub id: i64,
    pub kind: String,
    /// Revenue change: the order total when paid, minus the amount when refunded.
    pub revenue_delta_cents: i64,
    pub customer: String,
    pub day: String,
}

/// Applies events; `None` while a rebuild holds the lock.
///
/// # Errors
/// Redis errors.
pub async fn apply<C: ConnectionLike>(
    conn: &mut C,
    prefix: &str,
    events: &[EventArgs],
) -> RedisResult<Option<u64>> {
    let mut call = APPLY.prepare_invoke();
    call.arg(prefix).arg(GUARD_BUCKET).arg(GUARD_TTL_SECS);
    for e in events {
        call.arg(e.id)
            .arg(&e.kind)
            .arg(e.revenue_delta_cents)
            .arg(&e.customer)
            .arg(&e.day);
    }
    let applied: i64 = call.invoke_async(conn).await?;
    Ok(u64::try_from(applied).ok())
}

#[must_use]
pub fn day_key(prefix: &str, day: &str) -> String {
    format!("{prefix}:kpi:day:{day}")
}

#[must_use]
pub fn all_time_key(prefix: &str) -> String {
    format!("{prefix}:kpi:lb:all")
}

#[must_use]
pub fn day_board_key(prefix: &str, day: &str) -> String {
    format!("{prefix}:kpi:lb:day:{day}")
}

#[must_use]
pub fn rebuild_lock_key(prefix: &str) -> String {
    format!("{prefix}:kpi:rebuild")
}

#[must_use]
pub fn guard_key(prefix: &str, event_id: i64) -> String {
    format!("{prefix}:kpi:seen:{}", event_id / GUARD_BUCKET)
}

/// The integer-set guard an earlier version kept for `event_id` (read, never
/// written, by `GUARD_LUA`).
#[must_use]
pub fn legacy_guard_key(prefix: &str, event_id: i64) -> String {
    format!("{prefix}:kpi:applied:{}", event_id / 500)
}
