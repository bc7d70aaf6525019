//! Dead jobs: list them, and queue them again exactly as a fresh push would.
//!
//! apalis-redis 1.0 (`handle_results.lua`) kills a job by adding its id to
//! `{q}:dead` and writing `result`, `status`, `attempts` and `done_at` into
//! `{q}:meta:{id}`; the payload stays in `{q}:data`. A retry, in one script per
//! call, takes the id out of `:dead`, rewrites the metadata as our push does
//! (`attempts 0`, `status Pending`, the job's own `max_attempts` and
//! idempotency key, nothing else) and appends the id to `{q}:active`: the job
//! is never both dead and pending, and a caller dying mid-retry leaves it in
//! one place or the other.
//!
//! Before that, a retry reopens the rows the job left in a state its next run
//! would skip (see `revive`), so a retried job does its work. A discard
//! removes dead jobs from Redis and leaves their rows alone (see `discard`).
mod by_order;
mod dead_set;
mod discard;
mod list;
mod retry;
mod revive;

pub use by_order::OrderJobKeys;
pub use dead_set::{check_id, DeadJobError, OperatedQueue, MAX_IDS};
pub use discard::{discard, discard_all};
pub use list::{list, one, DeadJob, DeadJobs};
pub use retry::{retry, retry_all, RetryOutcome, RetryRequest};
pub use revive::revive;
