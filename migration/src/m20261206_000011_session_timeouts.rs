//! PostgreSQL ends a session that sits idle inside an open transaction for
//! more than 10 seconds, for every connection to this database.
//!
//! A worker host that is lost (frozen, or cut off so that its connections hang
//! instead of closing) can stop between two statements of a transaction that
//! holds product rows locked. Measured with `scripts/cluster.sh --lose worker`:
//! the other hosts' workflow batches then waited on those locks with no end,
//! 4,232 orders pending and none moving, because the server kept the frozen
//! session's transaction open. With this timeout the server rolls it back, the
//! locks go, the other hosts go on, and the lost host's work is refused by the
//! guarded transitions when it comes back. None of our transactions waits for
//! anything but the database between its statements (payments are charged
//! outside them), so 10 s idle in a transaction only happens to a lost client.
//!
//! Set on the database (`ALTER DATABASE`), so it holds for every connection,
//! through a pooler too, and for new sessions only; SQLite has no sessions.
use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        on_this_database(
            m,
            "SET idle_in_transaction_session_timeout = %L', current_database(), '10s'",
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        on_this_database(
            m,
            "RESET idle_in_transaction_session_timeout', current_database()",
        )
        .await
    }
}

/// `ALTER DATABASE <the current one> …`: `tail` closes the `format` string
/// and passes its arguments.
async fn on_this_database(m: &SchemaManager<'_>, tail: &str) -> Result<(), DbErr> {
    if m.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    m.get_connection()
        .execute_unprepared(&format!(
            "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I {tail}); END $$"
        ))
        .await?;
    Ok(())
}
