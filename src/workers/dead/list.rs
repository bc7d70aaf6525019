//! Reading a queue's dead set, most recent deaths first.
use std::collections::HashMap;

use redis::aio::ConnectionLike;
use serde::Serialize;
use serde_json::Value;

use super::dead_set::{payload_value, DeadJobError, OperatedQueue};
use crate::queue::SLICE;

/// The most dead ids one listing reads before sorting by death time.
const MAX_SCANNED: usize = 10_000;

/// One dead job as an operator needs to see it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct DeadJob {
    pub id: String,
    /// When it died (unix seconds), as apalis-redis recorded it.
    pub died_at: Option<i64>,
    pub attempts: Option<u64>,
    pub max_attempts: Option<u64>,
    /// apalis's status at death (`Killed` after the last attempt or a permanent failure).
    pub status: Option<String>,
    pub last_error: Option<String>,
    /// The job's JSON payload (a string when it is not JSON).
    pub payload: Value,
}

/// A page of a queue's dead set, most recent deaths first.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct DeadJobs {
    pub queue: String,
    pub total: u64,
    pub jobs: Vec<DeadJob>,
}

/// Up to `limit` dead jobs of `queue`, most recent first (sorted among the first
/// [`MAX_SCANNED`] ids read from the set).
///
/// # Errors
/// Redis errors.
pub async fn list<C: ConnectionLike>(
    conn: &mut C,
    queue: &OperatedQueue,
    limit: usize,
) -> Result<DeadJobs, DeadJobError> {
    let dead = format!("{}:dead", queue.full);
    let total: u64 = redis::cmd("SCARD").arg(&dead).query_async(conn).await?;
    let mut ids: Vec<String> = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SSCAN")
            .arg(&dead)
            .arg(cursor)
            .arg("COUNT")
            .arg(SLICE)
            .query_async(conn)
            .await?;
        ids.extend(batch);
        cursor = next;
        if cursor == 0 || ids.len() >= MAX_SCANNED {
            break;
        }
    }
    ids.sort_unstable();
    ids.dedup();
    let mut jobs = read_jobs(conn, &queue.full, ids).await?;
    jobs.sort_by(|a, b| b.died_at.cmp(&a.died_at).then_with(|| a.id.cmp(&b.id)));
    jobs.truncate(limit);
    let ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    if !ids.is_empty() {
        let payloads: Vec<Option<Vec<u8>>> = redis::cmd("HMGET")
            .arg(format!("{}:data", queue.full))
            .arg(&ids)
            .query_async(conn)
            .await?;
        for (job, raw) in jobs.iter_mut().zip(payloads) {
            job.payload = raw.map_or(Value::Null, |bytes| payload_value(&bytes));
        }
    }
    Ok(DeadJobs {
        queue: queue.short.to_string(),
        total,
        jobs,
    })
}

/// The metadata of `ids` (payloads are read later, for the page only).
async fn read_jobs<C: ConnectionLike>(
    conn: &mut C,
    queue: &str,
    ids: Vec<String>,
) -> Result<Vec<DeadJob>, DeadJobError> {
    let mut jobs = Vec::with_capacity(ids.len());
    for slice in ids.chunks(SLICE) {
        let mut pipe = redis::pipe();
        for id in slice {
            pipe.cmd("HGETALL").arg(format!("{queue}:meta:{id}"));
        }
        let metas: Vec<HashMap<String, String>> = pipe.query_async(conn).await?;
        jobs.extend(
            slice
                .iter()
                .zip(metas)
                .map(|(id, meta)| dead_job(id, &meta)),
        );
    }
    Ok(jobs)
}

fn dead_job(id: &str, meta: &HashMap<String, String>) -> DeadJob {
    DeadJob {
        id: id.to_string(),
        died_at: number(meta, "done_at"),
        attempts: number(meta, "attempts"),
        max_attempts: number(meta, "max_attempts"),
        status: meta.get("status").cloned(),
        last_error: meta.get("result").and_then(|r| last_error(r)),
        payload: Value::Null,
    }
}

fn number<T: std::str::FromStr>(meta: &HashMap<String, String>, field: &str) -> Option<T> {
    meta.get(field).and_then(|v| v.parse().ok())
}

/// apalis stores the outcome as JSON `{"Err": "…"}` (or `{"Ok": …}`).
fn last_error(result: &str) -> Option<String> {
    match serde_json::from_str::<Value>(result) {
        Ok(Value::Object(map)) => map.get("Err").map(|e| match e {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        Ok(_) => None,
        Err(_) => Some(result.to_string()),
    }
}

/// One job of `queue` by id, whatever its state (apalis keeps a finished job's
/// metadata until retention deletes it): `None` when Redis has no such job.
///
/// # Errors
/// Redis errors.
pub async fn one<C: ConnectionLike>(
    conn: &mut C,
    queue: &OperatedQueue,
    id: &str,
) -> Result<Option<DeadJob>, DeadJobError> {
    let meta: HashMap<String, String> = redis::cmd("HGETALL")
        .arg(format!("{}:meta:{id}", queue.full))
        .query_async(conn)
        .await?;
    let raw: Option<Vec<u8>> = redis::cmd("HGET")
        .arg(format!("{}:data", queue.full))
        .arg(id)
        .query_async(conn)
        .await?;
    if meta.is_empty() && raw.is_none() {
        return Ok(None);
    }
    let mut job = dead_job(id, &meta);
    job.payload = raw.map_or(Value::Null, |bytes| payload_value(&bytes));
    Ok(Some(job))
}
