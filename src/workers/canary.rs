//! The canary: a no-op job that proves workers are alive and measures queue latency.
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::JobContext;
use crate::queue::{queue_names, Job, JobResult, Queues};
use crate::settings::{QueueSettings, Settings};

/// Pushed by `POST /api/ops/canary`; records who ran it and how long it waited.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CanaryJob {
    pub queued_at_ms: i64,
}

/// The last canary run, as stored in Redis.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct CanaryReport {
    pub runs: u64,
    pub last_worker: Option<String>,
    pub last_ran_at_ms: Option<i64>,
    pub last_latency_ms: Option<i64>,
}

impl CanaryReport {
    /// Reads the report of this instance.
    ///
    /// # Errors
    /// When Redis fails.
    pub async fn read(queues: &Queues) -> anyhow::Result<Self> {
        let mut conn = queues.redis.clone();
        let (fields, runs): (std::collections::HashMap<String, String>, Option<u64>) =
            redis::pipe()
                .hgetall(key(&queues.settings))
                .get(format!("{}:runs", key(&queues.settings)))
                .query_async(&mut conn)
                .await?;
        Ok(Self {
            runs: runs.unwrap_or(0),
            last_worker: fields.get("worker").cloned(),
            last_ran_at_ms: fields.get("ran_at_ms").and_then(|v| v.parse().ok()),
            last_latency_ms: fields.get("latency_ms").and_then(|v| v.parse().ok()),
        })
    }
}

fn key(settings: &Settings) -> String {
    settings.redis.key("ops:canary:last")
}

/// This process, as an operator would look for it.
#[must_use]
pub fn process_name() -> String {
    format!(
        "{}-{}",
        gethostname::gethostname().to_string_lossy(),
        std::process::id()
    )
}

#[async_trait]
impl Job for CanaryJob {
    const QUEUE: &'static str = queue_names::CANARY;
    type Context = Arc<JobContext>;

    fn settings(settings: &Settings) -> QueueSettings {
        QueueSettings {
            concurrency: 4,
            retries: 0,
            ..settings.queues.notifications
        }
    }

    async fn run(self, cx: &Arc<JobContext>) -> JobResult {
        let key = key(cx.settings());
        let now = chrono::Utc::now().timestamp_millis();
        let mut conn = cx.queues.redis.clone();
        let () = redis::pipe()
            .hset_multiple(
                &key,
                &[
                    ("worker", process_name()),
                    ("ran_at_ms", now.to_string()),
                    ("latency_ms", (now - self.queued_at_ms).max(0).to_string()),
                ],
            )
            .ignore()
            .incr(format!("{key}:runs"), 1)
            .ignore()
            .query_async(&mut conn)
            .await
            .map_err(anyhow::Error::from)?;
        tracing::info!(latency_ms = now - self.queued_at_ms, "canary ran");
        Ok(())
    }
}
