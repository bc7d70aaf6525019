//! The queue core: apalis and apalis-redis, below the domain. Nothing here
//! knows orders; jobs, their payloads and their bodies live above, in
//! `workers/`, and plug in through [`Job`].
//!
//! - [`Job`] is what one queue runs; [`JobQueue`] pushes jobs in bulk.
//! - [`WorkerSet`] runs one apalis `Monitor` per process, plus housekeeping.
//! - [`Lease`] keeps two deliveries of one job from doing an outside effect at once.
//! - [`Queues`] is the Redis connection and the settings every queue needs.
mod handle;
mod heartbeat;
mod job;
mod job_queue;
mod lease;
pub mod pause;
mod payloads;
mod process;
pub mod pulse;
pub mod queue_names;
mod scripts;
pub mod stats;
pub mod stats_report;
pub mod watchdog;
pub mod worker_info;

pub use handle::Queues;
pub use job::{Job, JobAttempt, JobError, JobResult};
pub use job_queue::{beats_key, full_name, live_workers, JobQueue, Presence, QueueCounts};
pub use lease::Lease;
pub use payloads::{NotificationJob, OrderWorkflowJob, RefundJob};
pub use process::{stop_requested, WorkerProcess, WorkerSet};
pub use scripts::{reap_expired, unix_now, SLICE};
