//! A short exclusive lease in Redis, for work with an outside effect that two
//! deliveries of one job must not do at the same time (sending an email).
//!
//! It only keeps concurrent runs apart; the database still decides whether the
//! work is done. A holder that dies leaves the lease to expire after its `ttl`.
use std::{sync::LazyLock, time::Duration};

use apalis_redis::ConnectionManager;
use redis::{RedisResult, Script};

use super::Queues;

/// Deletes the lease only if it is still ours (it may have expired and been taken).
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
",
    )
});

/// Pushes the lease's expiry out, only if it is still ours.
static EXTEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
",
    )
});

/// A held lease; give it back with [`Lease::release`].
#[must_use = "a lease is held until released or expired"]
pub struct Lease {
    redis: ConnectionManager,
    key: String,
    token: String,
}

impl Lease {
    /// Takes the lease `name` (under the instance prefix) for `ttl`, or `None`
    /// when someone else holds it.
    ///
    /// # Errors
    /// When Redis fails.
    pub async fn acquire(queues: &Queues, name: &str, ttl: Duration) -> RedisResult<Option<Self>> {
        let key = queues.settings.redis.key(&format!("lease:{name}"));
        let token = uuid::Uuid::new_v4().simple().to_string();
        let mut redis = queues.redis.clone();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let taken: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut redis)
            .await?;
        Ok(taken.map(|_| Self { redis, key, token }))
    }

    /// [`Self::acquire`], waiting up to `wait` for a holder to give it back
    /// (polled every 50 ms). A holder whose attempt was cut off by the queue's
    /// timeout never releases: its lease only expires, after `ttl`, and
    /// deliveries that give up at once would use all their attempts meanwhile.
    ///
    /// # Errors
    /// When Redis fails.
    pub async fn acquire_waiting(
        queues: &Queues,
        name: &str,
        ttl: Duration,
        wait: Duration,
    ) -> RedisResult<Option<Self>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(lease) = Self::acquire(queues, name, ttl).await? {
                return Ok(Some(lease));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Keeps the lease for `ttl` from now; false when it expired and may be
    /// someone else's (the holder should stop).
    ///
    /// # Errors
    /// When Redis fails.
    pub async fn extend(&self, ttl: Duration) -> RedisResult<bool> {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let kept: i64 = EXTEND
            .key(&self.key)
            .arg(&self.token)
            .arg(ttl_ms)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(kept == 1)
    }

    /// Gives the lease back (a no-op if it expired meanwhile).
    ///
    /// # Errors
    /// When Redis fails (the lease then expires on its own).
    pub async fn release(mut self) -> RedisResult<()> {
        let _: i64 = RELEASE
            .key(&self.key)
            .arg(&self.token)
            .invoke_async(&mut self.redis)
            .await?;
        Ok(())
    }
}
