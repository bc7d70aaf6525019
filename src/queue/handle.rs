//! [`Queues`]: what every queue needs, built once per process. Its push side
//! ([`Queues::queue`]) is in `job_queue.rs`, so that what holds a `Queues` does
//! not import the whole queue.
use std::sync::Arc;

use redis::aio::ConnectionManager;

use crate::settings::Settings;

/// What every queue needs: the process's Redis connection and the settings that
/// name keys and tune queues. Cheap to clone.
#[derive(Clone)]
pub struct Queues {
    /// Auto-reconnecting connection shared by queues and figures.
    pub redis: ConnectionManager,
    pub settings: Arc<Settings>,
}
