//! Queue depths: the first thing to look at when orders stop moving.
use axum::{extract::State, routing::get};
use loco_rs::prelude::*;

use crate::{
    views::queues::QueuesResponse,
    workers::{queue_names, QueueCounts, Services},
};

/// Counts of the four product queues.
///
/// # Errors
/// When Redis cannot be read.
pub async fn list(State(ctx): State<AppContext>) -> Result<Response> {
    format::json(QueuesResponse {
        queues: all_counts(&ctx).await?,
    })
}

/// Reads the counts of every product queue.
///
/// # Errors
/// When Redis cannot be read.
pub async fn all_counts(ctx: &AppContext) -> Result<Vec<QueueCounts>> {
    let services = Services::of(ctx)?;
    let mut counts = Vec::with_capacity(queue_names::ALL.len());
    for queue in queue_names::ALL {
        counts.push(QueueCounts::read(&services.redis, &services.settings.redis.key(queue)).await?);
    }
    Ok(counts)
}

pub fn routes() -> Routes {
    Routes::new().prefix("api/queues").add("/", get(list))
}
