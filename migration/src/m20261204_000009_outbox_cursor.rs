//! The KPI outbox is read through a cursor instead of an "applied" flag.
//!
//! Marking each event applied was an update of every `kpi_events` row: not HOT
//! (the partial index on unapplied events changes), so a new heap tuple and an
//! entry in every index, about 17 % of all WAL of a benchmark run with the
//! partial index. Events are now read in commit-safe order, `(tx, id)`, past a
//! single cursor row; the row moves once per batch of events.
//!
//! `tx` is the id of the transaction that wrote the event (PostgreSQL's
//! `pg_current_xact_id()`). An event whose `tx` is older than the oldest
//! transaction still running can no longer appear or change, so the drainer
//! never passes an event that is still to be committed: ids alone could, as a
//! transaction holding a lower id may commit after one holding a higher id.
//! SQLite has one writer at a time, so ids commit in order there and `tx` is 0.
//!
//! `applied_at` stays for the rows written before this migration (the drainer
//! skips the ones already applied) and is not written any more.
use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const PARTIAL_INDEX: &str = "idx_kpi_events_unapplied";
const POSITION_INDEX: &str = "idx_kpi_events_position";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let postgres = m.get_database_backend() == DatabaseBackend::Postgres;
        let mut statements = vec![
            "ALTER TABLE kpi_events ADD COLUMN tx bigint NOT NULL DEFAULT 0".to_string(),
            format!("CREATE INDEX {POSITION_INDEX} ON kpi_events (tx, id)"),
            format!("DROP INDEX IF EXISTS {PARTIAL_INDEX}"),
            "CREATE TABLE kpi_cursor (\
                id integer PRIMARY KEY, \
                tx bigint NOT NULL, \
                event_id bigint NOT NULL, \
                generation bigint NOT NULL DEFAULT 0)"
                .to_string(),
            // Events past the cursor that a rebuild already counted.
            "CREATE TABLE kpi_skips (event_id bigint PRIMARY KEY, tx bigint NOT NULL)".to_string(),
            // Start just before the oldest event not applied yet (or after the
            // newest): the rows before it are all applied already.
            "INSERT INTO kpi_cursor (id, tx, event_id) VALUES (1, 0, COALESCE(\
                (SELECT MIN(id) - 1 FROM kpi_events WHERE applied_at IS NULL), \
                (SELECT MAX(id) FROM kpi_events), 0))"
                .to_string(),
        ];
        if postgres {
            // The cursor row changes several times a second; a full page has
            // room for its new versions, so the updates stay HOT.
            statements.push("ALTER TABLE kpi_cursor SET (fillfactor = 50)".to_string());
            statements.push(
                "ALTER TABLE kpi_events ALTER COLUMN tx \
                 SET DEFAULT (pg_current_xact_id()::text::bigint)"
                    .to_string(),
            );
        }
        for sql in statements {
            m.get_connection().execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    /// Back to the flag: every event the cursor has passed (or skips, because
    /// a rebuild counted it) is marked applied first, so none is applied twice.
    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for sql in [
            "UPDATE kpi_events SET applied_at = CURRENT_TIMESTAMP \
             WHERE applied_at IS NULL AND (\
               (tx, id) <= (SELECT tx, event_id FROM kpi_cursor WHERE id = 1) \
               OR id IN (SELECT event_id FROM kpi_skips))"
                .to_string(),
            "DROP TABLE kpi_skips".to_string(),
            "DROP TABLE kpi_cursor".to_string(),
            format!("DROP INDEX {POSITION_INDEX}"),
            "ALTER TABLE kpi_events DROP COLUMN tx".to_string(),
            format!("CREATE INDEX {PARTIAL_INDEX} ON kpi_events (id) WHERE applied_at IS NULL"),
        ] {
            m.get_connection().execute_unprepared(&sql).await?;
        }
        Ok(())
    }
}
