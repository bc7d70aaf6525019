//! Retries of the import run's Redis and database calls: a shared Redis or a
//! restarting PostgreSQL stalls now and then, and one stall must not fail an
//! import that has been running for minutes.
use std::time::Duration;

use super::types::ImportRunError;

/// Attempts of one Redis call before the import gives up.
const REDIS_ATTEMPTS: u32 = 5;

/// Retries a Redis call with doubling delays (0.2 s … 1.6 s): a shared Redis
/// stalls now and then (a slow command of another client), and one stall must
/// not fail an import that has been running for minutes.
pub(super) async fn with_retries<T, F, Fut>(mut call: F) -> Result<T, ImportRunError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = loco_rs::Result<T>>,
{
    let mut delay = Duration::from_millis(200);
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(e) if attempt < REDIS_ATTEMPTS => {
                tracing::warn!(attempt, error = %e, "redis call failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// How long the task keeps retrying a database call: a PostgreSQL restart of a
/// few seconds must not stop an import (the chunk jobs ride it out with their
/// own retries, the task must too).
const DB_OUTAGE: Duration = Duration::from_secs(30);

/// Retries a database call with doubling delays (0.2 s … 3.2 s) for up to
/// [`DB_OUTAGE`].
pub(super) async fn with_db_retries<T, F, Fut>(mut call: F) -> Result<T, ImportRunError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sea_orm::DbErr>>,
{
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(e) if started.elapsed() < DB_OUTAGE => {
                tracing::warn!(error = %e, "database call failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_millis(3_200));
            }
            Err(e) => return Err(e.into()),
        }
    }
}
