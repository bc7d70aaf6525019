//! What an operator watches: each queue's jobs by state and whether anybody
//! works it, the KPI outbox, and the canary.
use loco_rs::{app::AppContext, Error, Result};
use serde::Serialize;

use super::{canary::CanaryReport, queue, queue_names, scripts, QueueCounts, Services};
use crate::models::kpi::ledger;

/// What the dashboard and `/metrics` show; every part is cheap to read.
pub struct OpsStatus {
    pub queues: Vec<QueueOverview>,
    /// KPI events committed and not yet applied to Redis (a partial index count).
    pub kpi_outbox_pending: u64,
    pub canary: CanaryReport,
}

impl OpsStatus {
    /// # Errors
    /// When Redis or the database fails.
    pub async fn read(ctx: &AppContext) -> Result<Self> {
        let services = Services::of(ctx)?;
        Ok(Self {
            queues: read_all(&services).await?,
            kpi_outbox_pending: ledger::pending_count(&ctx.db).await?,
            canary: CanaryReport::read(&services)
                .await
                .map_err(|e| Error::string(&format!("canary report: {e}")))?,
        })
    }
}

/// One product queue at a glance.
#[derive(Debug, Clone, Serialize)]
pub struct QueueOverview {
    /// Short name (`orders:workflow`), as in the API's paths.
    pub queue: &'static str,
    pub counts: QueueCounts,
    /// Workers that beat within `heartbeat_secs × missed_heartbeats`.
    pub live_workers: u64,
    /// Seconds since the newest heartbeat of any worker (`None`: never worked).
    pub last_beat_secs_ago: Option<u64>,
}

impl QueueOverview {
    /// Jobs wait and nobody works the queue: what an operator must be told.
    #[must_use]
    pub fn unattended(&self) -> bool {
        self.live_workers == 0 && self.counts.pending + self.counts.scheduled > 0
    }
}

/// The four product queues, in [`queue_names::ALL`] order.
///
/// # Errors
/// When Redis fails.
pub async fn read_all(services: &Services) -> Result<Vec<QueueOverview>> {
    let ttl = services.settings.apalis.worker_ttl_secs();
    let now = scripts::unix_now();
    let mut conn = services.redis.clone();
    let mut all = Vec::with_capacity(queue_names::ALL.len());
    for short in queue_names::ALL {
        let name = services.settings.redis.key(short);
        let redis_err = |e: redis::RedisError| Error::string(&format!("queue {name}: {e}"));
        let counts = QueueCounts::read(&services.redis, &name).await?;
        let live_workers = queue::live_workers(&mut conn, &name, ttl)
            .await
            .map_err(redis_err)?;
        let newest: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(format!("{name}:workers"))
            .arg(-1)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await
            .map_err(redis_err)?;
        all.push(QueueOverview {
            queue: short,
            counts,
            live_workers,
            last_beat_secs_ago: newest.first().map(|(_, beat)| {
                // Scores are unix seconds; a beat "in the future" is clock skew.
                now.saturating_sub(beat.max(0.0) as u64)
            }),
        });
    }
    Ok(all)
}
