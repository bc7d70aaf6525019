//! Redis is disposable (issue 18): every worker process notices within one
//! heartbeat that Redis lost its data, and exactly one of them heals it from
//! the database, with no command typed.
//!
//! Two keys say whether Redis still holds what the processes put there:
//!
//! - `{prefix}:redis:generation`: a random id, written by the first process
//!   that finds it missing. A flush, a restart without persistence or an
//!   eviction takes it away with the rest of the data.
//! - `{prefix}:redis:server`: the `run_id` of the server that answered when
//!   the generation was written. Some losses keep the markers: a replica
//!   promoted after its primary died (issue 21) carries them over by
//!   replication but lacks the writes the primary had not replicated yet, and
//!   a server restarted from its AOF lacks up to a second of writes. Both
//!   answer with a new `run_id` (each `redis-server` process draws its own),
//!   so a different server answering is a loss too: a new generation, healed
//!   as any other. Healing what was not lost only queues work again, which
//!   the guarded transitions absorb.
//! - `{prefix}:redis:healed`: the generation whose jobs and figures were last
//!   poured in from the database (and `{prefix}:redis:heals` counts the heals
//!   since the last loss: 1 when one process healed it).
//!
//! While the two differ, Redis lacks jobs (every unfinished order, refund and
//! notification lost its job) and the figures lack their history. One process
//! takes a lease named after the new generation, queues every unfinished row
//! again and rebuilds the figures through `kpi::rebuild` (the outbox cursor
//! keeps every event counted once across it), then records the generation as
//! healed. The others find the lease taken and leave it to the holder; if the
//! holder dies, its lease expires and the next heartbeat of another process
//! heals instead.
//!
//! The check is one script call per heartbeat, never per job; the web side
//! reads the same keys (with the rebuild lock) in [`figures_rebuilding`].
use std::{sync::LazyLock, time::Duration};

use redis::{aio::ConnectionLike, RedisResult, Script};
use serde::Serialize;

use super::{recovery, JobContext};
use crate::models::kpi;
use crate::queue::Lease;

/// How long a healer holds its lease without renewing it: a healer that dies
/// leaves the heal to another process this long after.
const HEAL_LEASE: Duration = Duration::from_secs(30);
/// How often a live healer renews its lease.
const RENEW_EVERY: Duration = Duration::from_secs(10);

/// Reads the generation, writing a new one when it is missing or was written
/// by another server than the one answering (its `run_id`, read inside the
/// script so that it is the server that holds the keys), and the generation
/// last healed. A new generation starts the count of heals again (a flush
/// took it away already). KEYS: generation, healed, server, heals. ARGV: a
/// fresh id.
static NOTICE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local run_id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
local generation = redis.call('GET', KEYS[1])
if not generation or redis.call('GET', KEYS[3]) ~= run_id then
  generation = ARGV[1]
  redis.call('SET', KEYS[1], generation)
  redis.call('SET', KEYS[3], run_id)
  redis.call('DEL', KEYS[4])
end
return {generation, redis.call('GET', KEYS[2])}
",
    )
});

/// Records `ARGV[1]` as healed and counts the heal, unless the generation
/// changed meanwhile (Redis lost its data again during the heal: that loss
/// needs its own heal). KEYS: generation, healed, heals.
static FINISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[1])
  redis.call('INCR', KEYS[3])
  return 1
end
return 0
",
    )
});

fn generation_key(prefix: &str) -> String {
    format!("{prefix}:redis:generation")
}

fn healed_key(prefix: &str) -> String {
    format!("{prefix}:redis:healed")
}

fn server_key(prefix: &str) -> String {
    format!("{prefix}:redis:server")
}

/// Heals finished since Redis last lost everything: 1 after each loss when
/// exactly one process healed it (operators and tests read it).
#[must_use]
pub fn heals_key(prefix: &str) -> String {
    format!("{prefix}:redis:heals")
}

/// What Redis holds, as far as the markers tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Everything the database put there since the last loss.
    Whole,
    /// Data lost: `generation` was just written, or is not healed yet.
    Lost { generation: String },
}

/// Checks the markers (one script call), writing a new generation when the
/// old one is gone or another server answers than the one that wrote it.
///
/// # Errors
/// Redis errors.
pub async fn check<C: ConnectionLike>(conn: &mut C, prefix: &str) -> RedisResult<State> {
    let fresh = uuid::Uuid::new_v4().simple().to_string();
    let (generation, healed): (String, Option<String>) = NOTICE
        .key(generation_key(prefix))
        .key(healed_key(prefix))
        .key(server_key(prefix))
        .key(heals_key(prefix))
        .arg(fresh)
        .invoke_async(conn)
        .await?;
    Ok(if healed.as_deref() == Some(generation.as_str()) {
        State::Whole
    } else {
        State::Lost { generation }
    })
}

/// What one heal did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HealReport {
    pub generation: String,
    pub requeued: recovery::SweepReport,
    pub days_rebuilt: usize,
}

/// Heals when Redis lost its data and no other process is healing it.
/// `None` when there was nothing to do or another process holds the heal.
///
/// # Errors
/// Database or Redis errors: the generation stays unhealed and the next
/// heartbeat (of this process or another) tries again.
pub async fn heal_if_lost(cx: &JobContext) -> anyhow::Result<Option<HealReport>> {
    let prefix = cx.settings().redis.prefix.clone();
    let mut conn = cx.queues.redis.clone();
    let State::Lost { generation } = check(&mut conn, &prefix).await? else {
        return Ok(None);
    };
    let Some(lease) = Lease::acquire(&cx.queues, &format!("heal:{generation}"), HEAL_LEASE).await?
    else {
        return Ok(None);
    };
    tracing::warn!(%generation, "Redis lost its data: healing from the database");
    let healed = {
        let heal = heal(cx, &generation);
        tokio::pin!(heal);
        let mut renew = tokio::time::interval(RENEW_EVERY);
        renew.tick().await;
        loop {
            tokio::select! {
                done = &mut heal => break done,
                _ = renew.tick() => match lease.extend(HEAL_LEASE).await {
                    Ok(true) => {}
                    // Another process may heal now; finishing too only queues
                    // duplicates, which the guarded transitions absorb.
                    Ok(false) => tracing::warn!("the heal lease expired while healing"),
                    Err(e) => tracing::warn!(error = %e, "renewing the heal lease failed"),
                },
            }
        }
    };
    if let Err(e) = lease.release().await {
        tracing::warn!(error = %e, "releasing the heal lease failed; it expires");
    }
    let report = healed?;
    tracing::warn!(?report, "Redis healed from the database");
    Ok(Some(report))
}

async fn heal(cx: &JobContext, generation: &str) -> anyhow::Result<HealReport> {
    let prefix = &cx.settings().redis.prefix;
    // Work first: every minute without jobs is a minute of orders standing still.
    let requeued = recovery::requeue_all(cx).await?;
    let expected = kpi::rebuild(&cx.app.db, &cx.queues.redis, prefix, None).await?;
    let mut conn = cx.queues.redis.clone();
    let finished: i64 = FINISH
        .key(generation_key(prefix))
        .key(healed_key(prefix))
        .key(heals_key(prefix))
        .arg(generation)
        .invoke_async(&mut conn)
        .await?;
    if finished == 0 {
        tracing::warn!("Redis lost its data again while healing; healing again");
    }
    Ok(HealReport {
        generation: generation.to_string(),
        requeued,
        days_rebuilt: expected.days.len(),
    })
}

/// Whether the figures in Redis may be short of the truth right now: the data
/// was lost and is not healed yet, or a `kpi_rebuild` is running. One round
/// trip, read-only (the web side never heals).
///
/// # Errors
/// Redis errors.
pub async fn figures_rebuilding<C: ConnectionLike>(
    conn: &mut C,
    prefix: &str,
) -> RedisResult<bool> {
    let (generation, healed, rebuild): (Option<String>, Option<String>, Option<String>) =
        redis::cmd("MGET")
            .arg(generation_key(prefix))
            .arg(healed_key(prefix))
            .arg(kpi::store::rebuild_lock_key(prefix))
            .query_async(conn)
            .await?;
    Ok(generation.is_none() || generation != healed || rebuild.is_some())
}
