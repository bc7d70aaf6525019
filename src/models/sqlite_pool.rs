//! The SQLite pool: every connection runs the configured PRAGMAs, not only
//! the first.
//!
//! Loco runs `database.run_on_start` (by default its block: WAL,
//! `synchronous = NORMAL`, `busy_timeout = 5000`, a larger cache and mmap)
//! once, on the pool's first connection. Most of those PRAGMAs belong to a
//! connection, not to the file, so every other connection the pool opened (up
//! to `max_connections`, and again whenever an idle one was closed) ran with
//! SQLite's and sqlx's defaults instead, whatever the config said: the first
//! connection committed with `synchronous = NORMAL`, the others with `FULL`.
//!
//! [`reconnect`] opens the pool again, with sqlx applying the per-connection
//! PRAGMAs of the block to each connection it opens. `journal_mode` is left
//! to Loco's first connection: it is the file's, and changing it needs an
//! exclusive lock that a busy timeout cannot wait for. Statements of the block
//! that are not PRAGMAs still run once, by Loco. The pool also lets a
//! statement run ahead of its reader ([`ROW_CHANNEL`]).
use std::{sync::Arc, time::Duration};

use loco_rs::config;
use sea_orm::{
    sqlx::{self, pool::PoolConnection, sqlite::SqliteRow, Sqlite},
    ConnectOptions, Database, DatabaseConnection, DbErr, RuntimeErr, Statement,
};
use sea_query_sqlx::SqlxValues;

/// What every connection runs when the config sets no `run_on_start`: Loco
/// 1.2's block (`loco_rs::db::connect`) with `synchronous = FULL` and
/// without `mmap_size` and `cache_size`.
///
/// - `FULL`: a commit is on disk when it returns, as PostgreSQL's default
///   durability has it. `NORMAL` (Loco's) may lose the last commits to a power
///   loss: an order charged and then forgotten. Before this pool existed,
///   every connection but the first ran `FULL` (SQLite's default), so this
///   keeps what was measured; `NORMAL` on every connection was not faster
///   beyond this host's drift (BENCHMARKS.md, session 16).
/// - No `mmap_size` and `cache_size`: SPEC §10's memory bounds are RSS, and
///   both count in it once per connection, up to eight per process. With the
///   map on every connection a SQLite worker's peak RSS went from 235–240 MB
///   to 290–445 MB. The operating system caches the file either way.
pub const DEFAULT_BLOCK: &str = "
    PRAGMA foreign_keys = ON;
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = FULL;
    PRAGMA journal_size_limit = 67108864;
    PRAGMA busy_timeout = 5000;
";

/// How many rows a statement may run ahead of the code reading them (sqlx's
/// default: 50). sqlx runs each SQLite connection on a thread of its own,
/// which sends the rows to the async side through a channel of this size and
/// waits when it is full. A workflow batch's `UPDATE … RETURNING` gives up to
/// 256 rows and its items more: with 50 the thread waited for the async side
/// several times within one statement, inside the write transaction, while
/// every other writer waited for the lock (BENCHMARKS.md, session 17). The
/// channel grows only as rows come, and the bound still holds back a reader
/// of a large result.
pub const ROW_CHANNEL: usize = 1024;

/// The `PRAGMA name = value` statements of `block` that a connection keeps for
/// itself, as (lower-case name, value); `journal_mode` and statements of other
/// shapes are left out.
#[must_use]
pub fn per_connection_pragmas(block: &str) -> Vec<(String, String)> {
    block
        .split(';')
        .filter_map(|statement| {
            let statement = statement.trim();
            let (keyword, rest) = statement.split_once(char::is_whitespace)?;
            if !keyword.eq_ignore_ascii_case("pragma") {
                return None;
            }
            let (name, value) = rest.split_once('=')?;
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim();
            let valid = !name.is_empty() && !value.is_empty() && name != "journal_mode";
            valid.then(|| (name, value.to_string()))
        })
        .collect()
}

/// A pool like Loco's (same options as `loco_rs::db::connect`) whose every
/// connection runs the per-connection PRAGMAs of `run_on_start`, or of
/// [`DEFAULT_BLOCK`] when the config sets none.
///
/// # Errors
/// Connection errors.
pub async fn reconnect(config: &config::Database) -> Result<DatabaseConnection, DbErr> {
    let block = config.run_on_start.as_deref().unwrap_or(DEFAULT_BLOCK);
    let pragmas = per_connection_pragmas(block);
    let mut options = ConnectOptions::new(&config.uri);
    options
        .max_connections(config.max_connections)
        .min_connections(config.min_connections)
        .connect_timeout(Duration::from_millis(config.connect_timeout))
        .idle_timeout(Duration::from_millis(config.idle_timeout))
        .sqlx_logging(config.enable_logging)
        .map_sqlx_sqlite_opts(move |sqlite| {
            pragmas
                .iter()
                .fold(sqlite, |sqlite, (name, value)| {
                    sqlite.pragma(name.clone(), value.clone())
                })
                .row_buffer_size(ROW_CHANNEL)
        });
    if let Some(acquire_timeout) = config.acquire_timeout {
        options.acquire_timeout(Duration::from_millis(acquire_timeout));
    }
    Database::connect(options).await
}

/// Runs `text`, a whole transaction from its own `BEGIN IMMEDIATE` to its
/// `COMMIT` (see [`super::sql::Dialect::runs_transaction_texts`]), on one
/// connection of `db`'s SQLite pool, and returns the rows its statements
/// return, in order. The values are bound as sea-orm binds them.
///
/// A text that stops before its `COMMIT` (a statement failed, or this future
/// was dropped half-way) leaves its connection inside the transaction,
/// holding the write lock. sqlx does not know of a transaction it did not
/// begin, so that connection is closed instead of going back to the pool:
/// closing rolls the transaction back, and no other caller is handed a
/// connection in the middle of someone else's transaction.
///
/// # Errors
/// Database errors (then nothing of `text` stays), `db` not on SQLite, or a
/// text that does not begin with `BEGIN` and end with `COMMIT` (it would go
/// back to the pool inside its transaction).
pub async fn run_transaction_text(
    db: &DatabaseConnection,
    text: Statement,
) -> Result<Vec<SqliteRow>, DbErr> {
    let sea_orm::DatabaseBackend::Sqlite = db.get_database_backend() else {
        return Err(DbErr::Custom(
            "a transaction text runs on SQLite only".to_owned(),
        ));
    };
    let sql = text.sql.trim();
    if !(sql.starts_with("BEGIN") && sql.ends_with("COMMIT")) {
        return Err(DbErr::Custom(format!(
            "a transaction text runs from BEGIN to COMMIT: {sql:.60}"
        )));
    }
    let connection = db
        .get_sqlite_connection_pool()
        .acquire()
        .await
        .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e))))?;
    let mut held = ClosedUnlessCommitted(Some(connection));
    let values = SqlxValues(text.values.unwrap_or(sea_orm::Values(Vec::new())));
    let rows = sqlx::query_with(sqlx::AssertSqlSafe(text.sql), values)
        .fetch_all(held.connection())
        .await
        .map_err(|e| DbErr::Query(RuntimeErr::SqlxError(Arc::new(e))))?;
    held.committed();
    Ok(rows)
}

/// A pooled connection that is closed when dropped, unless its text ran to
/// its end ([`run_transaction_text`]).
struct ClosedUnlessCommitted(Option<PoolConnection<Sqlite>>);

impl ClosedUnlessCommitted {
    /// The connection, held until [`Self::committed`] or the drop.
    fn connection(&mut self) -> &mut sqlx::SqliteConnection {
        self.0
            .as_deref_mut()
            .expect("only `committed` and the drop take it, and both consume the guard")
    }

    /// Back to the pool, as any connection.
    fn committed(mut self) {
        drop(self.0.take());
    }
}

impl Drop for ClosedUnlessCommitted {
    fn drop(&mut self) {
        if let Some(mut connection) = self.0.take() {
            connection.close_on_drop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_block_keeps_every_pragma_but_the_journal_mode() {
        let names: Vec<String> = per_connection_pragmas(DEFAULT_BLOCK)
            .into_iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        assert_eq!(
            names,
            [
                "foreign_keys=ON",
                "synchronous=FULL",
                "journal_size_limit=67108864",
                "busy_timeout=5000",
            ]
        );
    }

    #[test]
    fn statements_that_are_not_assignments_are_left_to_run_once() {
        let block = "pragma Synchronous=FULL;\nCREATE TABLE t (a);\nPRAGMA optimize;\
                     PRAGMA journal_mode = DELETE; PRAGMA = 1; PRAGMA cache_size =  ;";
        assert_eq!(
            per_connection_pragmas(block),
            [("synchronous".to_string(), "FULL".to_string())]
        );
    }
}
