//! The arguments the tasks on one queue share: `queue=`, and for retry and
//! discard the dead jobs (`id=` or `all=true`).
use loco_rs::{app::AppContext, Result};
use redis::aio::ConnectionManager;

use super::args::{Arg, TaskArgs};
use crate::workers::{
    dead::{OperatedQueue, RetryRequest},
    Services,
};

/// `queue=NAME`, required.
pub const QUEUE: Arg = Arg::required(
    "queue",
    "orders:import, orders:workflow, notifications or refunds",
);

/// The queue `queue=` names, and a Redis connection to operate on it.
///
/// # Errors
/// A usage error for an unknown queue; an error when the services are missing.
pub fn operated_queue(
    ctx: &AppContext,
    args: &TaskArgs<'_>,
) -> Result<(OperatedQueue, ConnectionManager)> {
    let services = Services::of(ctx)?;
    let queue = OperatedQueue::resolve(&services.settings, args.require("queue")?)
        .map_err(|e| args.usage_error(&e.to_string()))?;
    Ok((queue, services.redis))
}

/// The dead jobs a task names: `id=JOB_ID` or `all=true`, one of the two
/// (`queues_retry` and `queues_discard` take the same arguments).
///
/// # Errors
/// A usage error for both, neither, or `all` other than `true`.
pub fn dead_jobs_named(args: &TaskArgs<'_>) -> Result<RetryRequest> {
    match (args.get("id"), args.get("all")) {
        (Some(id), None) => Ok(RetryRequest::Ids(vec![id.trim().to_string()])),
        (None, Some("true")) => Ok(RetryRequest::All),
        (None, Some(other)) => Err(args.usage_error(&format!("`all` must be true, got `{other}`"))),
        (Some(_), Some(_)) => Err(args.usage_error("give either id= or all=true")),
        (None, None) => Err(args.usage_error("give id=JOB_ID or all=true")),
    }
}
