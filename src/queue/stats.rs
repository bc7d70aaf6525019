//! How fast work goes: jobs done and failed, runtimes and waits, per queue and minute.
//!
//! Finished jobs are deleted within seconds, so queue depths cannot tell
//! throughput. Each worker process tallies its jobs in memory (a mutex and a
//! few additions per job, no Redis round trip) and every [`FLUSH_EVERY`] adds
//! the tallies to Redis in one pipeline: per queue, one hash per minute
//! (`{prefix}:stats:{queue}:m:{minute}`, expiring after [`MINUTE_TTL_SECS`]) and
//! one running total (`…:total`, never expiring). `HINCRBY` makes processes add
//! up, and the history lives in Redis, so a web restart loses none of it. A
//! process killed between flushes loses at most one interval of its tallies.
//!
//! Runtime and wait are histograms with fixed bucket bounds (milliseconds), so
//! minutes and processes sum exactly and quantiles are read from the sums.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use redis::{aio::ConnectionLike, RedisResult};

/// How often a worker process adds its tallies to Redis.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Minute buckets live two hours: the console shows the last one.
pub const MINUTE_TTL_SECS: u64 = 2 * 3600;
/// Upper bounds (ms) of the runtime buckets; one more bucket holds the rest.
pub const RUNTIME_BOUNDS_MS: [u64; 14] = [
    1, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000,
];
/// Upper bounds (ms) of the wait buckets (queued → first run).
pub const WAIT_BOUNDS_MS: [u64; 13] = [
    10, 50, 100, 250, 500, 1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 1_800_000, 3_600_000,
];

/// How one run of a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Failed; another attempt follows.
    Retried,
    /// Failed for good: in the dead set.
    Dead,
}

impl Outcome {
    pub const ALL: [Self; 3] = [Self::Done, Self::Retried, Self::Dead];

    #[must_use]
    pub const fn field(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Retried => "retried",
            Self::Dead => "dead",
        }
    }
}

/// Sums over some jobs: counts by outcome and the two histograms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub done: u64,
    pub retried: u64,
    pub dead: u64,
    pub runtime: Histogram<{ RUNTIME_BOUNDS_MS.len() + 1 }>,
    pub wait: Histogram<{ WAIT_BOUNDS_MS.len() + 1 }>,
}

/// Counts per bucket (not cumulative) and the sum of the values, in ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram<const N: usize> {
    pub buckets: [u64; N],
    pub sum_ms: u64,
}

impl<const N: usize> Default for Histogram<N> {
    fn default() -> Self {
        Self {
            buckets: [0; N],
            sum_ms: 0,
        }
    }
}

impl<const N: usize> Histogram<N> {
    fn observe(&mut self, bounds: &[u64], ms: u64) {
        let i = bounds.partition_point(|&bound| bound < ms);
        self.buckets[i] += 1;
        self.sum_ms += ms;
    }

    fn add(&mut self, other: &Self) {
        for (a, b) in self.buckets.iter_mut().zip(other.buckets) {
            *a += b;
        }
        self.sum_ms += other.sum_ms;
    }

    #[must_use]
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The upper bound (ms) of the bucket holding quantile `q` (0–1):
    /// `None` without observations, or when it falls past the last bound.
    #[must_use]
    pub fn quantile_ms(&self, bounds: &[u64], q: f64) -> Option<u64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        // Rank of the quantile, 1-based: ceil(q × count), at least 1.
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let rank = ((q * count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return bounds.get(i).copied();
            }
        }
        None
    }
}

impl Tally {
    /// Adds `other`'s counts and histograms to these.
    pub fn add(&mut self, other: &Self) {
        self.done += other.done;
        self.retried += other.retried;
        self.dead += other.dead;
        self.runtime.add(&other.runtime);
        self.wait.add(&other.wait);
    }

    /// Jobs that failed in the period (retried or dead).
    #[must_use]
    pub const fn failed(&self) -> u64 {
        self.retried + self.dead
    }

    #[must_use]
    pub const fn outcome(&self, outcome: Outcome) -> u64 {
        match outcome {
            Outcome::Done => self.done,
            Outcome::Retried => self.retried,
            Outcome::Dead => self.dead,
        }
    }

    /// The hash fields and increments of this tally (zeros left out).
    fn fields(&self) -> Vec<(String, u64)> {
        let mut fields = vec![
            ("done".to_string(), self.done),
            ("retried".to_string(), self.retried),
            ("dead".to_string(), self.dead),
            ("rt_sum".to_string(), self.runtime.sum_ms),
            ("wt_sum".to_string(), self.wait.sum_ms),
        ];
        for (i, n) in self.runtime.buckets.iter().enumerate() {
            fields.push((format!("rt{i}"), *n));
        }
        for (i, n) in self.wait.buckets.iter().enumerate() {
            fields.push((format!("wt{i}"), *n));
        }
        fields.retain(|(_, n)| *n > 0);
        fields
    }

    /// Reads a hash written by [`JobStats::flush`]; unknown fields are ignored.
    #[must_use]
    pub fn from_fields(fields: &HashMap<String, u64>) -> Self {
        let get = |name: &str| fields.get(name).copied().unwrap_or(0);
        let mut tally = Self {
            done: get("done"),
            retried: get("retried"),
            dead: get("dead"),
            ..Self::default()
        };
        tally.runtime.sum_ms = get("rt_sum");
        tally.wait.sum_ms = get("wt_sum");
        for (i, n) in tally.runtime.buckets.iter_mut().enumerate() {
            *n = get(&format!("rt{i}"));
        }
        for (i, n) in tally.wait.buckets.iter_mut().enumerate() {
            *n = get(&format!("wt{i}"));
        }
        tally
    }
}

/// `{prefix}:stats:{queue}:m:{minute}`, `minute` in unix minutes.
#[must_use]
pub fn minute_key(prefix: &str, queue: &str, minute: u64) -> String {
    format!("{prefix}:stats:{queue}:m:{minute}")
}

/// `{prefix}:stats:{queue}:total`.
#[must_use]
pub fn total_key(prefix: &str, queue: &str) -> String {
    format!("{prefix}:stats:{queue}:total")
}

/// One process's tallies not yet in Redis, by queue (short name) and minute.
#[derive(Debug, Clone, Default)]
pub struct JobStats {
    pending: Arc<Mutex<HashMap<(&'static str, u64), Tally>>>,
}

impl JobStats {
    /// Counts one run of a job of `queue` that took `runtime`; `wait` is how long
    /// it waited before its first run (`None` for a retry).
    pub fn record(
        &self,
        queue: &'static str,
        outcome: Outcome,
        runtime: Duration,
        wait: Option<Duration>,
    ) {
        let minute = super::unix_now() / 60;
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        let tally = pending.entry((queue, minute)).or_default();
        match outcome {
            Outcome::Done => tally.done += 1,
            Outcome::Retried => tally.retried += 1,
            Outcome::Dead => tally.dead += 1,
        }
        tally.runtime.observe(&RUNTIME_BOUNDS_MS, millis(runtime));
        if let Some(wait) = wait {
            tally.wait.observe(&WAIT_BOUNDS_MS, millis(wait));
        }
    }

    /// Adds the tallies to Redis in one pipeline. On failure they are kept for
    /// the next flush (a Redis outage delays figures, it does not lose them).
    ///
    /// # Errors
    /// Redis errors.
    pub async fn flush<C: ConnectionLike>(&self, conn: &mut C, prefix: &str) -> RedisResult<()> {
        let taken = match self.pending.lock() {
            Ok(mut pending) if !pending.is_empty() => std::mem::take(&mut *pending),
            _ => return Ok(()),
        };
        let mut pipe = redis::pipe();
        let mut totals: HashMap<&'static str, Tally> = HashMap::new();
        for ((queue, minute), tally) in &taken {
            let key = minute_key(prefix, queue, *minute);
            for (field, n) in tally.fields() {
                pipe.cmd("HINCRBY").arg(&key).arg(field).arg(n).ignore();
            }
            pipe.cmd("EXPIRE").arg(&key).arg(MINUTE_TTL_SECS).ignore();
            totals.entry(queue).or_default().add(tally);
        }
        for (queue, tally) in &totals {
            let key = total_key(prefix, queue);
            for (field, n) in tally.fields() {
                pipe.cmd("HINCRBY").arg(&key).arg(field).arg(n).ignore();
            }
        }
        if let Err(e) = pipe.query_async::<()>(conn).await {
            if let Ok(mut pending) = self.pending.lock() {
                for (key, tally) in taken {
                    pending.entry(key).or_default().add(&tally);
                }
            }
            return Err(e);
        }
        Ok(())
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Reads the hashes at `keys`, in order, in one round trip.
///
/// # Errors
/// Redis errors.
pub async fn read_tallies<C: ConnectionLike>(
    conn: &mut C,
    keys: &[String],
) -> RedisResult<Vec<Tally>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for key in keys {
        pipe.cmd("HGETALL").arg(key);
    }
    let hashes: Vec<HashMap<String, u64>> = pipe.query_async(conn).await?;
    Ok(hashes.iter().map(Tally::from_fields).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_in_the_first_bucket_whose_bound_holds_them() {
        let mut h = Histogram::<{ RUNTIME_BOUNDS_MS.len() + 1 }>::default();
        for ms in [0, 1, 2, 60_000, 60_001] {
            h.observe(&RUNTIME_BOUNDS_MS, ms);
        }
        assert_eq!(h.buckets[0], 2, "0 and 1 ms: le 1");
        assert_eq!(h.buckets[1], 1, "2 ms: le 5");
        assert_eq!(h.buckets[13], 1, "60 s: le 60000");
        assert_eq!(h.buckets[14], 1, "past the last bound");
        assert_eq!(h.sum_ms, 120_004);
    }

    #[test]
    fn quantiles_are_the_bound_of_the_bucket_holding_the_rank() {
        let mut h = Histogram::<{ RUNTIME_BOUNDS_MS.len() + 1 }>::default();
        assert_eq!(h.quantile_ms(&RUNTIME_BOUNDS_MS, 0.5), None);
        for _ in 0..90 {
            h.observe(&RUNTIME_BOUNDS_MS, 3);
        }
        for _ in 0..10 {
            h.observe(&RUNTIME_BOUNDS_MS, 400);
        }
        assert_eq!(h.quantile_ms(&RUNTIME_BOUNDS_MS, 0.5), Some(5));
        assert_eq!(h.quantile_ms(&RUNTIME_BOUNDS_MS, 0.9), Some(5));
        assert_eq!(h.quantile_ms(&RUNTIME_BOUNDS_MS, 0.95), Some(500));
    }

    #[test]
    fn a_tally_survives_its_hash_fields() {
        let stats = JobStats::default();
        stats.record(
            "q",
            Outcome::Done,
            Duration::from_millis(7),
            Some(Duration::from_millis(70)),
        );
        stats.record("q", Outcome::Dead, Duration::from_millis(1), None);
        let tally = stats
            .pending
            .lock()
            .unwrap()
            .values()
            .next()
            .cloned()
            .unwrap();
        let fields: HashMap<String, u64> = tally.fields().into_iter().collect();
        assert_eq!(Tally::from_fields(&fields), tally);
        assert_eq!((tally.done, tally.dead, tally.failed()), (1, 1, 1));
    }
}
