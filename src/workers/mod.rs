//! Background work: apalis workers over apalis-redis, confined to this module.
//!
//! - [`Services`] holds the Redis handles every controller, task and job uses.
//! - [`Job`] is what one queue runs; [`JobQueue`] pushes jobs in bulk.
//! - [`WorkerProcess`] runs one apalis `Monitor` per process, plus housekeeping.
//! - [`Lease`] keeps two deliveries of one job from doing an outside effect at once.
pub mod canary;
pub mod dead;
pub mod heal;
mod heartbeat;
pub mod import_chunk;
mod job;
mod lease;
pub mod notify;
pub mod order_workflow;
pub mod overview;
pub mod pause;
mod process;
mod queue;
pub mod refund;
mod scripts;
mod services;
pub mod stats;
pub mod stats_report;
pub mod watchdog;
pub mod worker_info;

pub use job::{Job, JobAttempt, JobError, JobResult};
pub use lease::Lease;
pub use process::{WorkerProcess, WorkerSet};
pub use queue::{JobQueue, Presence, QueueCounts};
pub use scripts::{reap_expired, unix_now};
pub use services::Services;

/// The four queues of SPEC §8, named explicitly (apalis would default to the Rust type path).
pub mod queue_names {
    pub const IMPORT: &str = "orders:import";
    pub const WORKFLOW: &str = "orders:workflow";
    pub const NOTIFICATIONS: &str = "notifications";
    pub const REFUNDS: &str = "refunds";
    pub const ALL: [&str; 4] = [IMPORT, WORKFLOW, NOTIFICATIONS, REFUNDS];
    /// Operators' probe (see `canary.rs`), outside the order pipeline.
    pub const CANARY: &str = "ops:canary";
}

/// Registers every job of the product on a worker set. Each job issue adds its line here.
#[must_use]
pub fn register_all(set: WorkerSet) -> WorkerSet {
    set.add::<canary::CanaryJob>()
        .add::<order_workflow::OrderWorkflowJob>()
        .add::<notify::NotificationJob>()
        .add::<import_chunk::ImportChunkJob>()
        .add::<refund::RefundJob>()
}
