//! Worker-process heartbeats: the one sign of a live worker that producers trust.
//!
//! apalis-redis keeps a registry of workers (`{q}:workers`), but an entry stays
//! after its process is killed, and a Redis flush or restart empties it while
//! the processes live on (apalis then re-registers each worker only when it
//! restarts it). An import task that read that registry said "no worker is
//! consuming" with two workers alive. So every worker process writes its own
//! beat into `{q}:beats` each `heartbeat_secs`, unconditionally (`ZADD`): after
//! a flush the beat is back within one heartbeat, and a killed process's beat
//! simply grows old.
use redis::{aio::ConnectionLike, RedisResult};

use super::{job_queue::beats_key, scripts};

/// Records that `instance` is alive and works `queues`; forgets beats older
/// than `forget_after_secs` (killed processes).
///
/// # Errors
/// Redis errors.
pub async fn beat<C: ConnectionLike>(
    conn: &mut C,
    queues: &[String],
    instance: &str,
    forget_after_secs: u64,
) -> RedisResult<()> {
    let now = scripts::unix_now();
    let mut pipe = redis::pipe();
    for queue in queues {
        let key = beats_key(queue);
        pipe.cmd("ZADD").arg(&key).arg(now).arg(instance).ignore();
        pipe.cmd("ZREMRANGEBYSCORE")
            .arg(&key)
            .arg("-inf")
            .arg(format!("({}", now.saturating_sub(forget_after_secs)))
            .ignore();
    }
    pipe.query_async(conn).await
}

/// Removes `instance`'s beats: it stopped working `queues`.
///
/// # Errors
/// Redis errors.
pub async fn leave<C: ConnectionLike>(
    conn: &mut C,
    queues: &[String],
    instance: &str,
) -> RedisResult<()> {
    let mut pipe = redis::pipe();
    for queue in queues {
        pipe.cmd("ZREM")
            .arg(beats_key(queue))
            .arg(instance)
            .ignore();
    }
    pipe.query_async(conn).await
}
