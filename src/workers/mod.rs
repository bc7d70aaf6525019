//! Background work: the product's jobs, one file per job, over the queue core
//! in `crate::queue`.
//!
//! - [`Services`] holds the Redis handles every controller and task uses.
//! - [`JobContext`] is what jobs are handed, built once per process from them.
//! - [`start::spawn`] starts every queue of this process, plus the domain loops.
pub mod canary;
mod context;
pub mod dead;
pub mod heal;
pub mod import_chunk;
pub mod import_run;
pub mod notify;
pub mod order_workflow;
pub mod overview;
pub mod recovery;
pub mod refund;
mod services;
pub mod start;

use std::sync::Arc;

pub use context::{Batcher, JobContext, LogBatcher};
pub use services::Services;

use crate::queue::{NotificationJob, OrderWorkflowJob, RefundJob, WorkerSet};

/// The worker set of the product's jobs, all handed `cx`.
pub type Workers = WorkerSet<Arc<JobContext>>;

/// An empty worker set whose jobs are handed `cx`.
#[must_use]
pub fn worker_set(cx: &Arc<JobContext>) -> Workers {
    WorkerSet::new(cx.queues.clone(), Arc::clone(cx))
}

/// Registers every job of the product on a worker set. Each job issue adds its line here.
#[must_use]
pub fn register_all(set: Workers) -> Workers {
    set.add::<canary::CanaryJob>()
        .add::<OrderWorkflowJob>()
        .add::<NotificationJob>()
        .add::<import_chunk::ImportChunkJob>()
        .add::<RefundJob>()
}
