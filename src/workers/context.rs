//! [`JobContext`]: what the product's jobs, batches and domain loops are
//! handed, built once per process where the work starts (worker start-up, a
//! task) instead of being looked up by every job. It is built from the
//! process's services in `services.rs`, so that this file, which every job
//! imports, does not import the services and the domain batchers they hold.
use std::sync::Arc;

use loco_rs::app::AppContext;

use crate::{
    models::{group_commit::GroupCommit, workflow::gateway::PaymentGateway},
    queue::Queues,
    settings::Settings,
};

/// Groups this process's workflow jobs into batches (`order_workflow/batcher.rs`).
pub type Batcher = GroupCommit<i64, std::result::Result<(), String>>;

/// Batches of `log` rows share one commit (`notify.rs`).
pub type LogBatcher = GroupCommit<i64, bool>;

/// Everything a job body needs. Handed to jobs as an `Arc`: the queue clones
/// it into every run, which then costs a reference count.
pub struct JobContext {
    /// Loco's context: the database pool, the mailer, the configuration.
    pub app: AppContext,
    /// The process's Redis connection and settings.
    pub queues: Queues,
    /// Where charges and refunds go.
    pub gateway: Arc<dyn PaymentGateway>,
    /// Groups this process's workflow jobs into batches.
    pub batcher: Arc<Batcher>,
    /// Groups this process's `log` notifications into batches.
    pub log_batcher: Arc<LogBatcher>,
}

impl JobContext {
    /// The typed `settings:` block.
    #[must_use]
    pub fn settings(&self) -> &Settings {
        &self.queues.settings
    }
}
