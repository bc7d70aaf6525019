//! [`JobContext`]: what the product's jobs, batches and domain loops are
//! handed, built once per process where the work starts (worker start-up, a
//! task) instead of being looked up by every job.
use std::sync::Arc;

use loco_rs::{app::AppContext, Result};

use super::Services;
use crate::{
    models::{group_commit::GroupCommit, workflow::gateway::PaymentGateway},
    queue::{Job, JobQueue, Queues},
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
    /// A context over `app` and the `services` it was booted with, with batchers
    /// of its own: build it once per process.
    #[must_use]
    pub fn new(app: &AppContext, services: &Services) -> Arc<Self> {
        let batches = services.settings.workflow.batches_in_flight;
        Arc::new(Self {
            app: app.clone(),
            queues: services.queues(),
            gateway: Arc::clone(&services.gateway),
            batcher: Arc::new(Batcher::concurrent(batches)),
            log_batcher: Arc::new(LogBatcher::default()),
        })
    }

    /// [`Self::new`] with the services of a booted app: the one lookup a
    /// process makes where its work starts (Loco hands hooks and tasks only
    /// the `AppContext`).
    ///
    /// # Errors
    /// When `after_context` did not install the services.
    pub fn of(app: &AppContext) -> Result<Arc<Self>> {
        Ok(Self::new(app, &Services::of(app)?))
    }

    /// The typed `settings:` block.
    #[must_use]
    pub fn settings(&self) -> &Settings {
        &self.queues.settings
    }

    /// The push side of `J`'s queue.
    #[must_use]
    pub fn queue<J: Job>(&self) -> JobQueue<J> {
        self.queues.queue::<J>()
    }
}
