//! [`Queues`]: what every queue needs, built once per process.
use std::sync::Arc;

use loco_rs::{app::AppContext, Error, Result};
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
    /// Stores the handle in `ctx.shared_store`, where worker start-up finds it.
    pub fn install(ctx: &AppContext, redis: ConnectionManager, settings: Arc<Settings>) {
        ctx.shared_store.insert(Self { redis, settings });
    }

    /// The handle of a booted app.
    ///
    /// # Errors
    /// When called on a context that `after_context` did not prepare.
    pub fn of(ctx: &AppContext) -> Result<Self> {
        ctx.shared_store
            .get::<Self>()
            .ok_or_else(|| Error::string("queues not installed: App::after_context did not run"))
    }

    /// The push side of `J`'s queue.
    #[must_use]
    pub fn queue<J: Job>(&self) -> JobQueue<J> {
        JobQueue::new(&self.redis, &self.settings)
    }
}
