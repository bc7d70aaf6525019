//! Imports gain the state `interrupted`: the task stopped (a signal, lost
//! chunks it could not send again, dead chunk jobs, no worker) before every
//! chunk was committed. The `CHECK` on `imports.state` is widened.
//!
//! PostgreSQL drops and re-adds the constraint. SQLite cannot alter a CHECK;
//! rebuilding `imports` would cascade-delete `import_chunks` through its
//! foreign key, so the table's stored definition is edited in place, the
//! procedure SQLite documents for loosening a constraint (ALTER TABLE, "other
//! kinds of table schema changes"): existing rows already satisfy the wider
//! CHECK, and the schema version is bumped so every open connection reloads it.
use sea_orm_migration::{
    prelude::*,
    sea_orm::{DatabaseBackend, Statement},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

const OLD: &str = "'queued', 'importing', 'done', 'failed'";
const NEW: &str = "'queued', 'importing', 'done', 'failed', 'interrupted'";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        set_states(m, OLD, NEW).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("UPDATE imports SET state = 'failed' WHERE state = 'interrupted'")
            .await?;
        set_states(m, NEW, OLD).await
    }
}

async fn set_states(m: &SchemaManager<'_>, from: &str, to: &str) -> Result<(), DbErr> {
    let conn = m.get_connection();
    if m.get_database_backend() == DatabaseBackend::Postgres {
        conn.execute_unprepared(&format!(
            "ALTER TABLE imports DROP CONSTRAINT IF EXISTS imports_state_check; \
             ALTER TABLE imports ADD CONSTRAINT imports_state_check CHECK (state IN ({to}))"
        ))
        .await?;
        return Ok(());
    }
    let version = conn
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Sqlite,
            "PRAGMA schema_version",
        ))
        .await?
        .map(|row| row.try_get_by_index::<i64>(0))
        .transpose()?
        .unwrap_or(0);
    // One string, so every statement runs on one connection of the pool
    // (`writable_schema` is a per-connection setting).
    conn.execute_unprepared(&format!(
        "BEGIN; \
         PRAGMA writable_schema = ON; \
         UPDATE sqlite_master SET sql = replace(sql, {}, {}) \
           WHERE type = 'table' AND name = 'imports'; \
         PRAGMA schema_version = {}; \
         PRAGMA writable_schema = OFF; \
         COMMIT;",
        literal(from),
        literal(to),
        version + 1
    ))
    .await?;
    Ok(())
}

/// `text` as an SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
