//! Transactions that read before they write.
use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

/// Begins a transaction that will write after reading. On SQLite it takes the
/// write lock at `BEGIN IMMEDIATE`: a deferred transaction that reads first
/// cannot upgrade its lock while another transaction holds one, and SQLite
/// answers "database is locked" at once instead of waiting its busy timeout.
/// PostgreSQL ignores the mode.
///
/// # Errors
/// Database errors.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}
