//! [`Queues`]: what every queue needs, built once per process.
use std::sync::Arc;

use redis::aio::ConnectionManager;

use super::{Job, JobQueue};
use crate::settings::Settings;

/// What every queue needs: the process's Redis connection and the settings that
/// name keys and tune queues. Cheap to clone.
#[derive(Clone)]
pub struct Queues {
    /// Auto-reconnecting connection shared by queues and figures.
    pub redis: ConnectionManager,
    pub settings: Arc<Settings>,
}

impl Queues {
    /// The push side of `J`'s queue.
    #[must_use]
    pub fn queue<J: Job>(&self) -> JobQueue<J> {
        JobQueue::new(&self.redis, &self.settings)
    }
}
