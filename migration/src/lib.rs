#![allow(elided_lifetimes_in_paths)]
#![allow(clippy::wildcard_imports)]
pub use sea_orm_migration::prelude::*;

mod m20261121_000001_catalog;
mod m20261121_000002_orders;
mod m20261121_000003_refunds_and_outbox;
mod m20261122_000004_unapplied_events_index;
mod m20261122_000005_hot_status_updates;
mod m20261122_000006_outbox_foreign_keys;
mod m20261122_000007_order_rows;
mod m20261204_000008_orders_customer_index;
mod m20261204_000009_outbox_cursor;
mod m20261206_000010_import_interrupted;
mod m20261206_000011_session_timeouts;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_catalog::Migration),
            Box::new(m20261121_000002_orders::Migration),
            Box::new(m20261121_000003_refunds_and_outbox::Migration),
            Box::new(m20261122_000004_unapplied_events_index::Migration),
            Box::new(m20261122_000005_hot_status_updates::Migration),
            Box::new(m20261122_000006_outbox_foreign_keys::Migration),
            Box::new(m20261122_000007_order_rows::Migration),
            Box::new(m20261204_000008_orders_customer_index::Migration),
            Box::new(m20261204_000009_outbox_cursor::Migration),
            Box::new(m20261206_000010_import_interrupted::Migration),
            Box::new(m20261206_000011_session_timeouts::Migration),
            // inject-above (do not remove this comment)
        ]
    }
}

/// `col IN ('a', 'b', …)`: a CHECK that keeps a status column inside its state machine.
pub(crate) fn one_of(col: impl IntoIden, values: &[&str]) -> SimpleExpr {
    Expr::col(col.into_iden()).is_in(values.iter().copied())
}

/// Runs `statements` on PostgreSQL only: what they change (foreign keys, fill
/// factors) SQLite either lacks or could only change by rebuilding a table.
/// A `Vec`, not an iterator: a borrowing closure held across the awaits would
/// make the migration's future not `Send`.
pub(crate) async fn on_postgres(
    m: &SchemaManager<'_>,
    statements: Vec<String>,
) -> Result<(), DbErr> {
    if m.get_database_backend() != sea_orm_migration::sea_orm::DatabaseBackend::Postgres {
        return Ok(());
    }
    for sql in statements {
        m.get_connection().execute_unprepared(&sql).await?;
    }
    Ok(())
}

/// `ALTER TABLE … SET (fillfactor = percent)` for each of `tables`.
pub(crate) fn set_fillfactor<'a>(
    tables: &'a [&str],
    percent: u8,
) -> impl Iterator<Item = String> + 'a {
    tables
        .iter()
        .map(move |table| format!("ALTER TABLE {table} SET (fillfactor = {percent})"))
}
