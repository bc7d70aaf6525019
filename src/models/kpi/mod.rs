//! Live KPIs and leaderboards in Redis, kept equal to the database.
//!
//! Every figure-changing event is a `kpi_events` row committed with the
//! transition that caused it (the outbox). [`drain`] applies the rows past the
//! outbox cursor to Redis in batches and then moves the cursor (at least once:
//! a row stays past the cursor until Redis took it), and the apply script skips
//! ids it has seen (at most once). [`rebuild`]
//! replaces what Redis holds with what the rows add up to; [`verify`] compares.
pub mod cursor;
pub mod day;
pub mod figures;
pub mod ledger;
pub mod store;

use std::collections::BTreeSet;

use anyhow::{bail, Context as _};
use redis::aio::ConnectionManager;
use sea_orm::{DatabaseConnection, TransactionTrait};

use self::{
    cursor::Cursor,
    figures::Expected,
    ledger::{Scope, Settled},
    store::EventArgs,
};

/// Events applied per Redis call.
const BATCH: u64 = 2_000;

/// Applies every committed event past the cursor; returns how many were newly
/// applied. Stops early (returning what it did) while a rebuild holds the lock
/// or replaced the cursor under it.
///
/// The order is apply, then move the cursor: a crash between the two applies
/// the batch again, and the guards in Redis make that a no-op.
///
/// # Errors
/// Database or Redis errors; the events stay past the cursor and are retried.
pub async fn drain(
    db: &DatabaseConnection,
    redis: &ConnectionManager,
    prefix: &str,
) -> anyhow::Result<u64> {
    let mut total = 0;
    loop {
        let cursor = Cursor::read(db).await?;
        let past =
            ledger::past_cursor(db, &cursor, &Scope::default(), Settled::Only, Some(BATCH)).await?;
        let Some(last) = past.last else {
            return Ok(total);
        };
        let full = past.read as u64 == BATCH;
        let events: Vec<EventArgs> = past.events.into_iter().map(|(_, e)| e).collect();
        if !events.is_empty() {
            let mut conn = redis.clone();
            let Some(applied) = store::apply(&mut conn, prefix, &events).await? else {
                return Ok(total);
            };
            total += applied;
        }
        if !cursor.advance(db, last).await? || !full {
            return Ok(total);
        }
    }
}

/// Replaces the figures in Redis with what the database says: every day and
/// both boards, or (with `day`) that day's figures and board only. Each key is
/// swapped in whole, so readers never see a half-built day.
///
/// # Errors
/// A rebuild already running, database or Redis errors.
pub async fn rebuild(
    db: &DatabaseConnection,
    redis: &ConnectionManager,
    prefix: &str,
    day: Option<&str>,
) -> anyhow::Result<Expected> {
    let mut conn = redis.clone();
    let lock = store::rebuild_lock_key(prefix);
    let took: bool = redis::cmd("SET")
        .arg(&lock)
        .arg(1)
        .arg("NX")
        .arg("EX")
        .arg(600)
        .query_async::<Option<String>>(&mut conn)
        .await?
        .is_some();
    if !took {
        bail!("another kpi_rebuild is running (lock {lock})");
    }
    let result = rebuild_locked(db, redis, prefix, day).await;
    let _: redis::RedisResult<()> = redis::cmd("DEL").arg(&lock).query_async(&mut conn).await;
    result
}

async fn rebuild_locked(
    db: &DatabaseConnection,
    redis: &ConnectionManager,
    prefix: &str,
    day: Option<&str>,
) -> anyhow::Result<Expected> {
    // One snapshot: the figures, the cursor and the events past it agree.
    let txn = db
        .begin_with_config(Some(sea_orm::IsolationLevel::RepeatableRead), None)
        .await
        .context("starting the snapshot")?;
    let scope = Scope {
        day: day.map(str::to_string),
    };
    let cursor = Cursor::read(&txn).await?;
    let expected = ledger::expected(&txn, &scope).await?;
    // Counted here and not yet in Redis (as far as the cursor knows): a
    // drainer that read them before the lock must find them applied.
    let past = ledger::past_cursor(&txn, &cursor, &scope, Settled::Visible, None).await?;
    let (past_positions, counted): (Vec<_>, Vec<_>) = past.events.into_iter().unzip();
    // A full rebuild counted every event of the snapshot: the cursor moves to
    // the last one no running transaction can precede, and the rest are skips.
    // A day rebuild moves nothing; the day's events past the cursor are skips.
    let (at, skips) = match day {
        None => {
            let at = ledger::settled_end(&txn, cursor.at).await?;
            (Some(at), ledger::positions_after(&txn, at).await?)
        }
        Some(_) => (None, past_positions),
    };
    txn.commit().await?;

    swap::swap_in(redis, prefix, day, &expected, &counted).await?;
    let txn = db.begin().await?;
    Cursor::replace(&txn, at, &skips).await?;
    txn.commit().await?;
    Ok(expected)
}

/// One difference between Redis and the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference(pub String);

/// Compares every figure and board in Redis with the database.
///
/// # Errors
/// Database or Redis errors.
pub async fn verify(
    db: &DatabaseConnection,
    redis: &ConnectionManager,
    prefix: &str,
) -> anyhow::Result<Vec<Difference>> {
    let expected = ledger::expected(db, &Scope::default()).await?;
    let mut diffs = Vec::new();
    let pending = ledger::pending_count(db).await?;
    if pending > 0 {
        diffs.push(Difference(format!(
            "{pending} events are not applied to Redis yet"
        )));
    }
    let mut days: BTreeSet<String> = expected.days.keys().cloned().collect();
    days.extend(swap::days_in_redis(redis, prefix).await?);
    for day in &days {
        let want = expected.days.get(day).copied().unwrap_or_default();
        let have = figures::read_day(redis, prefix, day).await?;
        if want != have {
            diffs.push(Difference(format!(
                "day {day}: redis {have:?}, database {want:?}"
            )));
        }
        let want_board = expected.day_boards.get(day).cloned().unwrap_or_default();
        compare_board(
            redis,
            &store::day_board_key(prefix, day),
            &want_board,
            &format!("board of {day}"),
            &mut diffs,
        )
        .await?;
    }
    compare_board(
        redis,
        &store::all_time_key(prefix),
        &expected.all_time,
        "all-time board",
        &mut diffs,
    )
    .await?;
    Ok(diffs)
}

async fn compare_board(
    redis: &ConnectionManager,
    key: &str,
    want: &std::collections::BTreeMap<String, i64>,
    what: &str,
    diffs: &mut Vec<Difference>,
) -> anyhow::Result<()> {
    let have: std::collections::BTreeMap<String, i64> = figures::read_board(redis, key, isize::MAX)
        .await?
        .into_iter()
        .collect();
    for customer in want.keys().chain(have.keys()).collect::<BTreeSet<_>>() {
        let (w, h) = (want.get(customer), have.get(customer));
        if w != h {
            diffs.push(Difference(format!(
                "{what}, customer {customer}: redis {h:?}, database {w:?}"
            )));
        }
    }
    Ok(())
}

mod swap;
