//! Background work: the product's jobs, one file per job, over the queue core
//! in `crate::queue`.
//!
//! - [`Services`] holds the Redis handles every controller, task and job uses.
//! - [`start::spawn`] starts every queue of this process, plus the domain loops.
pub mod canary;
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

pub use services::{Batcher, LogBatcher, Services};

use crate::queue::{NotificationJob, OrderWorkflowJob, RefundJob, WorkerSet};

/// Registers every job of the product on a worker set. Each job issue adds its line here.
#[must_use]
pub fn register_all(set: WorkerSet) -> WorkerSet {
    set.add::<canary::CanaryJob>()
        .add::<OrderWorkflowJob>()
        .add::<NotificationJob>()
        .add::<import_chunk::ImportChunkJob>()
        .add::<RefundJob>()
}
