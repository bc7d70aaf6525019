//! How far the outbox has been applied to Redis: one cursor row, not a flag per
//! event (migration 9 says why).
//!
//! Events are read in `(tx, id)` order. Everything at or before the cursor is
//! in Redis; so are the events in `kpi_skips` (past the cursor, but counted by a
//! rebuild). A rebuild replaces the cursor and bumps its generation, so a
//! drainer that read the cursor before the rebuild cannot move it afterwards.
use std::collections::HashSet;

use sea_orm::{ConnectionTrait, DbErr, Value};

use crate::models::sql::Dialect;

/// An event's place in the outbox: (writing transaction, event id).
pub type Position = (i64, i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at: Position,
    pub generation: i64,
}

impl Cursor {
    /// The cursor as it is now.
    ///
    /// # Errors
    /// Database errors, or no cursor row (migration 9 not run).
    pub async fn read<C: ConnectionTrait>(db: &C) -> Result<Self, DbErr> {
        let row = db
            .query_one_raw(Dialect::of(db).statement(
                "SELECT tx, event_id, generation FROM kpi_cursor WHERE id = 1",
                vec![],
            ))
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("kpi_cursor (run the migrations)".into()))?;
        Ok(Self {
            at: (row.try_get("", "tx")?, row.try_get("", "event_id")?),
            generation: row.try_get("", "generation")?,
        })
    }

    /// Moves the cursor forward to `to` and forgets the skips it passed.
    /// Returns false, changing nothing, when a rebuild replaced the cursor
    /// since it was read or another drainer is already at or past `to`.
    ///
    /// # Errors
    /// Database errors.
    pub async fn advance<C: ConnectionTrait>(&self, db: &C, to: Position) -> Result<bool, DbErr> {
        let moved = db
            .execute_raw(Dialect::of(db).statement(
                "UPDATE kpi_cursor SET tx = ?, event_id = ? \
                 WHERE id = 1 AND generation = ? AND (tx, event_id) < (?, ?)",
                vec![
                    to.0.into(),
                    to.1.into(),
                    self.generation.into(),
                    to.0.into(),
                    to.1.into(),
                ],
            ))
            .await?
            .rows_affected()
            == 1;
        if moved {
            forget_passed_skips(db).await?;
        }
        Ok(moved)
    }

    /// Records `skips` (events past the cursor that are in Redis already),
    /// moves the cursor forward to `at` if given, and starts a new generation.
    /// Only a rebuild does this, in one transaction, with its snapshot's outcome.
    ///
    /// Never backwards: a drainer may have passed skipped events after the
    /// rebuild read the cursor, and forgotten those skips; moving back would
    /// apply them again.
    ///
    /// # Errors
    /// Database errors.
    pub async fn replace<C: ConnectionTrait>(
        db: &C,
        at: Option<Position>,
        skips: &[Position],
    ) -> Result<(), DbErr> {
        db.execute_raw(Dialect::of(db).statement(
            "UPDATE kpi_cursor SET generation = generation + 1 WHERE id = 1",
            vec![],
        ))
        .await?;
        if let Some(at) = at {
            db.execute_raw(Dialect::of(db).statement(
                "UPDATE kpi_cursor SET tx = ?, event_id = ? \
                 WHERE id = 1 AND (tx, event_id) < (?, ?)",
                vec![at.0.into(), at.1.into(), at.0.into(), at.1.into()],
            ))
            .await?;
        }
        for chunk in skips.chunks(1_000) {
            let rows = vec!["(?, ?)"; chunk.len()].join(", ");
            let values = chunk
                .iter()
                .flat_map(|&(tx, id)| [Value::from(id), Value::from(tx)])
                .collect();
            db.execute_raw(Dialect::of(db).statement(
                &format!(
                    "INSERT INTO kpi_skips (event_id, tx) VALUES {rows} \
                     ON CONFLICT (event_id) DO NOTHING"
                ),
                values,
            ))
            .await?;
        }
        forget_passed_skips(db).await
    }
}

/// The skipped events in `from..=to` (by position), for a drainer's batch.
///
/// # Errors
/// Database errors.
pub async fn skips_between<C: ConnectionTrait>(
    db: &C,
    from: Position,
    to: Position,
) -> Result<HashSet<i64>, DbErr> {
    let rows = db
        .query_all_raw(Dialect::of(db).statement(
            "SELECT event_id FROM kpi_skips \
             WHERE (tx, event_id) > (?, ?) AND (tx, event_id) <= (?, ?)",
            vec![from.0.into(), from.1.into(), to.0.into(), to.1.into()],
        ))
        .await?;
    rows.iter().map(|row| row.try_get("", "event_id")).collect()
}

/// How many events past the cursor Redis has not seen: committed ones only.
///
/// # Errors
/// Database errors.
pub async fn pending<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    let row = db
        .query_one_raw(Dialect::of(db).statement(
            "SELECT COUNT(*) AS n FROM kpi_events e \
             WHERE (e.tx, e.id) > (SELECT tx, event_id FROM kpi_cursor WHERE id = 1) \
               AND e.applied_at IS NULL \
               AND NOT EXISTS (SELECT 1 FROM kpi_skips s WHERE s.event_id = e.id)",
            vec![],
        ))
        .await?;
    let n: i64 = match row {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

async fn forget_passed_skips<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    db.execute_raw(Dialect::of(db).statement(
        "DELETE FROM kpi_skips \
         WHERE (tx, event_id) <= (SELECT tx, event_id FROM kpi_cursor WHERE id = 1)",
        vec![],
    ))
    .await?;
    Ok(())
}
