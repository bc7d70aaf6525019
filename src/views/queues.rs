use serde::Serialize;

use crate::queue::{stats_report::QueueStats, QueueCounts};

/// `GET /api/queues`: the depth of every queue, for people and probes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueuesResponse {
    pub queues: Vec<QueueCounts>,
}

/// `POST /api/queues/{queue}/dead/retry`: how many dead jobs were queued again.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RetryResponse {
    pub queue: &'static str,
    pub retried: u64,
    /// Dead ids whose payload is gone: left where they are.
    pub skipped: u64,
}

/// `POST /api/queues/{queue}/dead/discard`: how many dead jobs were removed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DiscardResponse {
    pub queue: &'static str,
    pub discarded: u64,
}

/// `POST /api/queues/{queue}/pause` and `/resume`: the queue's state afterwards.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PauseResponse {
    pub queue: &'static str,
    pub paused: bool,
    /// False when the queue already was in that state.
    pub changed: bool,
}

/// `GET /api/queues/stats`: each queue's last `minutes` minutes of work.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueueStatsResponse {
    pub minutes: u64,
    pub queues: Vec<QueueStats>,
}
