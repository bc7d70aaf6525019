//! What an operator watches: each queue's jobs by state and whether anybody
//! works it, the KPI outbox, and the canary.
use loco_rs::{Error, Result};
use sea_orm::DatabaseConnection;
use serde::Serialize;

use super::canary::CanaryReport;
use crate::models::kpi::ledger;
use crate::queue::{queue_names, unix_now, QueueCounts, Queues};

/// What the dashboard and `/metrics` show; every part is cheap to read.
pub struct OpsStatus {
    pub queues: Vec<QueueOverview>,
    /// KPI events committed and not yet applied to Redis (counted past the outbox cursor).
    pub kpi_outbox_pending: u64,
    pub canary: CanaryReport,
}

impl OpsStatus {
    /// Read by the web pages, with the web side's queues (`Services::web(…).queues()`:
    /// the fail-fast connection).
    ///
    /// # Errors
    /// When Redis or the database fails.
    pub async fn read(db: &DatabaseConnection, queues: &Queues) -> Result<Self> {
        Ok(Self {
            queues: read_all(queues).await?,
            kpi_outbox_pending: ledger::pending_count(db).await?,
            canary: CanaryReport::read(queues)
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
    /// Seconds since the newest heartbeat of any worker (`None`: never worked).
    pub last_beat_secs_ago: Option<u64>,
}

/// The four product queues, in [`queue_names::ALL`] order.
///
/// # Errors
/// When Redis fails.
pub async fn read_all(queues: &Queues) -> Result<Vec<QueueOverview>> {
    let ttl = queues.settings.apalis.worker_ttl_secs();
    let now = unix_now();
    let mut all = Vec::with_capacity(queue_names::ALL.len());
    for short in queue_names::ALL {
        let name = queues.settings.redis.key(short);
        let counts = QueueCounts::read(&queues.redis, &name, ttl).await?;
        all.push(QueueOverview {
            queue: short,
            last_beat_secs_ago: counts.last_beat_at.map(|beat| now.saturating_sub(beat)),
            counts,
        });
    }
    Ok(all)
}
