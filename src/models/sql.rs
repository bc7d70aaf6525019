//! Statements whose text does not change with the number of values they carry.
//!
//! `col IN ($1, $2, …)` is a new statement for every list length: PostgreSQL
//! parses and plans each one afresh and the driver's statement cache churns.
//! Batches of the workflow, the import and the outbox vary in size all the
//! time, and `perf` put parsing and planning at about a fifth of PostgreSQL's
//! CPU in a 300,000-order run. On PostgreSQL these helpers bind the whole list
//! as one array parameter instead (`col = ANY($1)`, `UNNEST($1, $2, …)`), so
//! each statement is parsed once per connection and its plan reused. SQLite
//! has no arrays: lists go in as one JSON array (`json_each`), for the same
//! reason (sqlx's statement cache; see [`id_in`]). Its multi-row inserts keep
//! their `VALUES` lists.
//!
//! Every other difference between the two dialects is a method of
//! [`Dialect`] too, so no caller looks at the backend itself. A method picks
//! its text once per statement (a statement serves a whole batch), never per
//! row, and gives the same text for any batch on PostgreSQL.
use std::fmt::Write as _;

use sea_orm::{
    sea_query::{extension::postgres::PgFunc, ArrayType, Expr, ExprTrait, SimpleExpr},
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, QueryFilter, QueryResult, Statement, Value,
};

/// The SQL dialect of a connection: PostgreSQL, or SQLite (any other backend
/// gets SQLite's plain forms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

impl From<DbBackend> for Dialect {
    fn from(backend: DbBackend) -> Self {
        match backend {
            DbBackend::Postgres => Self::Postgres,
            _ => Self::Sqlite,
        }
    }
}

/// One column of [`Dialect::insert_rows`]: its name, its PostgreSQL type and
/// the array type its values are bound as there.
pub type InsertColumn = (&'static str, &'static str, ArrayType);

impl Dialect {
    /// The dialect `db` speaks.
    pub fn of<C: ConnectionTrait>(db: &C) -> Self {
        db.get_database_backend().into()
    }

    fn backend(self) -> DbBackend {
        match self {
            Self::Postgres => DbBackend::Postgres,
            Self::Sqlite => DbBackend::Sqlite,
        }
    }

    /// `sql` written with `?` placeholders, numbered `$1, $2, …` for PostgreSQL.
    #[must_use]
    pub fn statement(self, sql: &str, values: Vec<Value>) -> Statement {
        let sql = match self {
            Self::Postgres => {
                let mut numbered = String::with_capacity(sql.len() + 8);
                let mut n = 0;
                for c in sql.chars() {
                    if c == '?' {
                        n += 1;
                        let _ = write!(numbered, "${n}");
                    } else {
                        numbered.push(c);
                    }
                }
                numbered
            }
            Self::Sqlite => sql.to_owned(),
        };
        Statement::from_sql_and_values(self.backend(), sql, values)
    }

    /// `INSERT INTO table (columns) … tail` of `rows`, each row's values in
    /// the order of `columns`. On PostgreSQL one array per column through
    /// `UNNEST` ([`unnest_insert`]: the same text for any number of rows,
    /// one more array for a column that holds a NULL);
    /// on SQLite a `VALUES` list. `tail` (`ON CONFLICT …`, `RETURNING …`) is
    /// written in the syntax both share.
    #[must_use]
    pub fn insert_rows<const N: usize>(
        self,
        table: &str,
        columns: &[InsertColumn; N],
        tail: &str,
        rows: impl IntoIterator<Item = [Value; N]>,
    ) -> Statement {
        let rows = rows.into_iter();
        match self {
            Self::Postgres => {
                let mut arrays: [Vec<Value>; N] =
                    std::array::from_fn(|_| Vec::with_capacity(rows.size_hint().0));
                // Which rows are NULL, for a column where one is: an array
                // parameter cannot hold NULL (see [`array`]), so such a column
                // is bound with a stand-in and a mask beside it.
                let mut nulls: [Option<Vec<Value>>; N] = std::array::from_fn(|_| None);
                for (at, row) in rows.enumerate() {
                    for ((array, mask), value) in arrays.iter_mut().zip(&mut nulls).zip(row) {
                        let is_null = value == value.as_null();
                        if is_null && mask.is_none() {
                            *mask = Some(vec![false.into(); at]);
                        }
                        if let Some(mask) = mask {
                            mask.push(is_null.into());
                        }
                        array.push(if is_null { value.dummy_value() } else { value });
                    }
                }
                let columns = columns
                    .iter()
                    .zip(arrays)
                    .zip(nulls)
                    .map(
                        |((&(name, sql_type, ref ty), values), nulls)| UnnestColumn {
                            name,
                            sql_type,
                            values: array(ty.clone(), values),
                            nulls: nulls.map(|mask| array(ArrayType::Bool, mask)),
                        },
                    )
                    .collect();
                unnest_insert(table, columns, tail)
            }
            Self::Sqlite => {
                let names: Vec<&str> = columns.iter().map(|(name, _, _)| *name).collect();
                let one = format!("({})", vec!["?"; N].join(", "));
                let mut values = Vec::with_capacity(rows.size_hint().0 * N);
                let mut sql = format!("INSERT INTO {table} ({}) VALUES ", names.join(", "));
                for (i, row) in rows.enumerate() {
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str(&one);
                    values.extend(row);
                }
                let _ = write!(sql, " {tail}");
                Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
            }
        }
    }

    /// Adds each delta of `moves` (row id, delta) to `column` of `table` and
    /// sets `updated_at` to `now`, in one statement: `UPDATE … FROM UNNEST` of
    /// ids and deltas on PostgreSQL (the same text for any number of rows), a
    /// `CASE` on SQLite.
    #[must_use]
    pub fn add_by_id(
        self,
        table: &str,
        column: &str,
        moves: &[(i64, i64)],
        now: chrono::NaiveDateTime,
    ) -> Statement {
        match self {
            Self::Postgres => {
                let (ids, deltas): (Vec<i64>, Vec<i64>) = moves.iter().copied().unzip();
                Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    format!(
                        "UPDATE {table} SET {column} = {table}.{column} + m.delta, updated_at = $3 \
                         FROM UNNEST($1::int8[], $2::int8[]) AS m(id, delta) WHERE {table}.id = m.id"
                    ),
                    [
                        array(ArrayType::BigInt, ids.into_iter().map(Value::from)),
                        array(ArrayType::BigInt, deltas.into_iter().map(Value::from)),
                        now.into(),
                    ],
                )
            }
            Self::Sqlite => {
                let mut sql = format!("UPDATE {table} SET {column} = {column} + CASE id");
                let mut values = Vec::with_capacity(moves.len() * 3 + 1);
                for &(id, delta) in moves {
                    sql.push_str(" WHEN ? THEN ?");
                    values.extend([Value::from(id), Value::from(delta)]);
                }
                sql.push_str(" ELSE 0 END, updated_at = ? WHERE id IN (");
                values.push(now.into());
                sql.push_str(&vec!["?"; moves.len()].join(", "));
                sql.push(')');
                values.extend(moves.iter().map(|&(id, _)| Value::from(id)));
                Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
            }
        }
    }

    /// `ANALYZE tables` where the planner needs fresh statistics after a bulk
    /// load (PostgreSQL); `None` on SQLite, whose plans do not depend on them
    /// here.
    #[must_use]
    pub fn analyze(self, tables: &str) -> Option<String> {
        match self {
            Self::Postgres => Some(format!("ANALYZE {tables}")),
            Self::Sqlite => None,
        }
    }

    /// Whether PostgreSQL's statistics of `table` are stale: the table holds
    /// twice the rows its statistics say (`pg_class.reltuples`: -1 before
    /// the first ANALYZE, counted as at least 250), judged by its highest id (a
    /// table nothing deletes from; an index read, not a count). One row, one
    /// boolean. `None` on SQLite (see [`Self::analyze`]).
    #[must_use]
    pub fn statistics_stale(self, table: &str) -> Option<String> {
        match self {
            Self::Postgres => Some(format!(
                "SELECT (SELECT coalesce(max(id), 0) FROM {table}) \
                 >= 2 * greatest(reltuples, 250)::bigint \
                 FROM pg_class WHERE oid = '{table}'::regclass"
            )),
            Self::Sqlite => None,
        }
    }

    /// Whether writers lock the rows they change (PostgreSQL), so that a
    /// writer must take its row locks in a fixed order before it updates. On
    /// SQLite a write transaction holds the file's one write lock, which keeps
    /// every other writer out: a statement run only to lock rows is one more
    /// round trip under that lock, for nothing.
    #[must_use]
    pub const fn locks_rows(self) -> bool {
        matches!(self, Self::Postgres)
    }

    /// Whether a whole transaction, `BEGIN` to `COMMIT`, can go to the database
    /// as one text with parameters (SQLite: sqlx runs every statement of a
    /// text on the connection's own thread, binding `?` in order across them).
    /// Then SQLite's one write lock is held for the statements alone, not for
    /// the round trips between them (session 17 measured a third of each hold
    /// in those). PostgreSQL takes one statement per query with parameters.
    #[must_use]
    pub const fn runs_transaction_texts(self) -> bool {
        matches!(self, Self::Sqlite)
    }

    /// Keeps the rows whose writing transaction (`tx_column`, filled with
    /// `pg_current_xact_id()`) is older than every running one: no running
    /// transaction can still commit a row before them. On SQLite, one writer
    /// commits ids in order, so every committed row is final.
    pub fn settled<Q: QueryFilter>(self, query: Q, tx_column: &str) -> Q {
        match self {
            Self::Postgres => query.filter(Expr::cust(format!(
                "{tx_column} < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
            ))),
            Self::Sqlite => query,
        }
    }
}

/// Runs `first`, then `then`, and returns `then`'s rows, in one round trip
/// where the database allows it. SQLite runs every statement of one query
/// text, binding `?` in order across them: under its one write lock, each
/// round trip is a wait for the async side to send the next statement
/// (session 17 measured a third of each hold in those waits). PostgreSQL takes
/// one statement per query with parameters, so there `first` runs alone.
///
/// # Errors
/// Database errors of either statement.
pub async fn query_all_after<C: ConnectionTrait>(
    db: &C,
    first: Statement,
    then: Statement,
) -> Result<Vec<QueryResult>, DbErr> {
    match Dialect::of(db) {
        Dialect::Sqlite => db.query_all_raw(one_after_another(first, then)).await,
        Dialect::Postgres => {
            db.execute_raw(first).await?;
            db.query_all_raw(then).await
        }
    }
}

/// SQLite's text of `first; then`, their parameters in that order.
fn one_after_another(first: Statement, then: Statement) -> Statement {
    let values = first
        .values
        .into_iter()
        .chain(then.values)
        .flat_map(|v| v.0)
        .collect::<Vec<Value>>();
    Statement::from_sql_and_values(
        first.db_backend,
        format!("{};\n{}", first.sql, then.sql),
        values,
    )
}

/// `col IN (ids)`: `col = ANY($1)` on PostgreSQL, the ids as one JSON array
/// on SQLite.
pub fn id_in<C: ColumnTrait>(
    backend: DbBackend,
    col: C,
    ids: impl IntoIterator<Item = i64>,
) -> SimpleExpr {
    match Dialect::from(backend) {
        Dialect::Postgres => any_of(col, ArrayType::BigInt, ids),
        Dialect::Sqlite => in_json_array(col, ids.into_iter().collect()),
    }
}

/// `col IN (keys)` for text keys: `col = ANY($1)` on PostgreSQL, the keys as
/// one JSON array on SQLite.
pub fn key_in<'a, C: ColumnTrait>(
    backend: DbBackend,
    col: C,
    keys: impl IntoIterator<Item = &'a str>,
) -> SimpleExpr {
    match Dialect::from(backend) {
        Dialect::Postgres => any_of(col, ArrayType::String, keys),
        Dialect::Sqlite => in_json_array(col, keys.into_iter().collect()),
    }
}

/// `col = ANY($1)`, with one array of `ty`.
fn any_of<C: ColumnTrait, V: Into<Value>>(
    col: C,
    ty: ArrayType,
    values: impl IntoIterator<Item = V>,
) -> SimpleExpr {
    col.into_expr().eq(PgFunc::any(Expr::val(array(
        ty,
        values.into_iter().map(Into::into),
    ))))
}

/// SQLite's `col IN (SELECT value FROM json_each(?))`: one text for any
/// number of values. An `IN (?, ?, …)` list was a new statement for every
/// batch size, which sqlx's statement cache (100 per connection) could not
/// hold: measured, 410 statements prepared a second at 220 µs each, two
/// thirds of that time inside write transactions that every other writer
/// waited for (BENCHMARKS.md, session 17).
fn in_json_array<C: ColumnTrait, T: serde::Serialize>(col: C, values: Vec<T>) -> SimpleExpr {
    // A list of integers or strings always serialises.
    let json = serde_json::to_string(&values).unwrap_or_default();
    Expr::cust_with_exprs(
        "? IN (SELECT value FROM json_each(?))",
        [col.into_expr(), Expr::val(json)],
    )
}

/// One column of [`unnest_insert`]: its values as one array parameter and,
/// when some are NULL, a boolean array saying which.
struct UnnestColumn<'a> {
    name: &'a str,
    sql_type: &'a str,
    values: Value,
    nulls: Option<Value>,
}

/// `INSERT INTO table (columns) SELECT * FROM UNNEST($1::type[], …) tail` for
/// PostgreSQL: one array per column, the same text for any number of rows.
/// A column with a NULL mask is selected as `CASE WHEN its mask THEN NULL
/// ELSE its value END`, so the text changes only with which columns hold a
/// NULL, never with the number of rows.
#[must_use]
fn unnest_insert(table: &str, columns: Vec<UnnestColumn<'_>>, tail: &str) -> Statement {
    let names: Vec<&str> = columns.iter().map(|c| c.name).collect();
    let mut params = Vec::with_capacity(columns.len());
    let mut aliases = Vec::with_capacity(columns.len());
    let mut selected = Vec::with_capacity(columns.len());
    let mut values = Vec::with_capacity(columns.len());
    let masked = columns.iter().any(|c| c.nulls.is_some());
    for (i, column) in columns.into_iter().enumerate() {
        values.push(column.values);
        params.push(format!("${}::{}[]", values.len(), column.sql_type));
        aliases.push(format!("c{i}"));
        match column.nulls {
            Some(mask) => {
                values.push(mask);
                params.push(format!("${}::bool[]", values.len()));
                aliases.push(format!("n{i}"));
                selected.push(format!("CASE WHEN n{i} THEN NULL ELSE c{i} END"));
            }
            None => selected.push(format!("c{i}")),
        }
    }
    // Without a mask every column is selected as it is, under its own name.
    let (selected, aliased) = if masked {
        (
            selected.join(", "),
            format!(" AS u({})", aliases.join(", ")),
        )
    } else {
        ("*".to_owned(), String::new())
    };
    let sql = format!(
        "INSERT INTO {table} ({}) SELECT {selected} FROM UNNEST({}){aliased} {tail}",
        names.join(", "),
        params.join(", ")
    );
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// One PostgreSQL array parameter of `ty` holding `values`.
///
/// No element may be NULL: sea-query-sqlx binds the array as a `Vec` of plain
/// values and panics on a NULL element ([`Dialect::insert_rows`] masks them).
pub fn array(ty: ArrayType, values: impl IntoIterator<Item = Value>) -> Value {
    Value::Array(ty, Some(Box::new(values.into_iter().collect())))
}

#[cfg(test)]
mod tests {
    use sea_orm::{DbBackend, EntityTrait, QueryFilter, QueryTrait};

    use super::{id_in, key_in, one_after_another, Dialect};
    use crate::models::_entities::{orders, products};

    #[test]
    fn two_statements_are_one_sqlite_text_with_their_parameters_in_order() {
        let first = sea_orm::Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "INSERT INTO a (x, y) VALUES (?, ?)",
            [1_i64.into(), "two".into()],
        );
        let then = sea_orm::Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "INSERT INTO b (z) VALUES (?) RETURNING id",
            [3_i64.into()],
        );
        let both = one_after_another(first, then);
        assert_eq!(
            both.sql,
            "INSERT INTO a (x, y) VALUES (?, ?);\nINSERT INTO b (z) VALUES (?) RETURNING id"
        );
        assert_eq!(
            both.values.map(|v| v.0),
            Some(vec![1_i64.into(), "two".into(), 3_i64.into()])
        );
    }

    fn sql_of(backend: DbBackend, ids: Vec<i64>) -> String {
        orders::Entity::find()
            .filter(id_in(backend, orders::Column::Id, ids))
            .build(backend)
            .sql
    }

    #[test]
    fn on_postgres_the_text_is_the_same_for_any_number_of_ids() {
        let one = sql_of(DbBackend::Postgres, vec![7]);
        let many = sql_of(DbBackend::Postgres, (1..=500).collect());
        assert_eq!(one, many);
        assert!(one.contains("= ANY($1)"), "{one}");
    }

    #[test]
    fn on_sqlite_the_text_is_the_same_for_any_number_of_ids() {
        let one = sql_of(DbBackend::Sqlite, vec![7]);
        let many = sql_of(DbBackend::Sqlite, (1..=500).collect());
        assert_eq!(one, many);
        assert!(
            one.contains(r#""orders"."id" IN (SELECT value FROM json_each(?))"#),
            "{one}"
        );
    }

    #[test]
    fn on_sqlite_the_values_are_one_json_array() {
        let backend = DbBackend::Sqlite;
        let ids = orders::Entity::find()
            .filter(id_in(backend, orders::Column::Id, vec![1, -2, 30]))
            .build(backend)
            .values;
        assert_eq!(ids.unwrap().0, [sea_orm::Value::from("[1,-2,30]")]);
        let keys = products::Entity::find()
            .filter(key_in(
                backend,
                products::Column::Sku,
                ["A-1", "say \"hi\"", ""],
            ))
            .build(backend)
            .values;
        assert_eq!(
            keys.unwrap().0,
            [sea_orm::Value::from(r#"["A-1","say \"hi\"",""]"#)]
        );
        let none = orders::Entity::find()
            .filter(id_in(backend, orders::Column::Id, Vec::new()))
            .build(backend)
            .values;
        assert_eq!(none.unwrap().0, [sea_orm::Value::from("[]")]);
    }

    #[test]
    fn null_values_are_masked_on_postgres_and_the_text_depends_only_on_which_columns_hold_one() {
        use sea_orm::sea_query::ArrayType;
        let columns = [
            ("a", "int8", ArrayType::BigInt),
            ("b", "text", ArrayType::String),
        ];
        let rows = |n: i64| {
            (0..n).map(|i| {
                let b = (i % 2 == 1).then(|| format!("x{i}"));
                [i.into(), b.into()]
            })
        };
        let pg = |n| Dialect::Postgres.insert_rows("t", &columns, "RETURNING id", rows(n));
        assert_eq!(pg(2).sql, pg(301).sql);
        assert_eq!(
            pg(2).sql,
            "INSERT INTO t (a, b) SELECT c0, CASE WHEN n1 THEN NULL ELSE c1 END \
             FROM UNNEST($1::int8[], $2::text[], $3::bool[]) AS u(c0, c1, n1) RETURNING id"
        );
        let values = pg(3).values.expect("values").0;
        assert_eq!(
            values[2],
            super::array(ArrayType::Bool, [true.into(), false.into(), true.into()]),
            "the mask says which rows are NULL"
        );
        assert_eq!(
            values[1],
            super::array(
                ArrayType::String,
                [String::new().into(), "x1".into(), String::new().into()]
            ),
            "a NULL is bound as a stand-in"
        );
        // A NULL first met in a later row: the rows before it are masked as not NULL.
        let later = Dialect::Postgres.insert_rows(
            "t",
            &columns,
            "",
            [
                [1_i64.into(), Some("y").into()],
                [2_i64.into(), None::<String>.into()],
            ],
        );
        assert_eq!(
            later.values.expect("values").0[2],
            super::array(ArrayType::Bool, [false.into(), true.into()])
        );
    }

    #[test]
    fn placeholders_are_numbered_on_postgres_only() {
        let sql = "UPDATE t SET a = ? WHERE b = ?";
        assert_eq!(
            Dialect::Postgres.statement(sql, vec![]).sql,
            "UPDATE t SET a = $1 WHERE b = $2"
        );
        assert_eq!(Dialect::Sqlite.statement(sql, vec![]).sql, sql);
    }

    #[test]
    fn inserted_rows_are_arrays_on_postgres_and_a_values_list_on_sqlite() {
        use sea_orm::sea_query::ArrayType;
        let columns = [
            ("a", "int8", ArrayType::BigInt),
            ("b", "text", ArrayType::String),
        ];
        let rows = |n: i64| (0..n).map(|i| [i.into(), format!("x{i}").into()]);
        let pg = |n| Dialect::Postgres.insert_rows("t", &columns, "RETURNING id", rows(n));
        assert_eq!(pg(1).sql, pg(300).sql);
        assert_eq!(
            pg(2).sql,
            "INSERT INTO t (a, b) SELECT * FROM UNNEST($1::int8[], $2::text[]) RETURNING id"
        );
        assert_eq!(pg(3).values.map(|v| v.0.len()), Some(2));
        let lite = Dialect::Sqlite.insert_rows("t", &columns, "RETURNING id", rows(2));
        assert_eq!(
            lite.sql,
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?) RETURNING id"
        );
        assert_eq!(lite.values.map(|v| v.0.len()), Some(4));
    }

    #[test]
    fn stock_moves_are_one_statement_on_both() {
        let now = chrono::NaiveDateTime::default();
        let pg = |moves: &[(i64, i64)]| Dialect::Postgres.add_by_id("p", "s", moves, now).sql;
        assert_eq!(pg(&[(1, 2)]), pg(&[(1, 2), (3, -4), (5, 6)]));
        let lite = Dialect::Sqlite.add_by_id("p", "s", &[(1, 2), (3, -4)], now);
        assert_eq!(
            lite.sql,
            "UPDATE p SET s = s + CASE id WHEN ? THEN ? WHEN ? THEN ? ELSE 0 END, \
             updated_at = ? WHERE id IN (?, ?)"
        );
        assert_eq!(lite.values.map(|v| v.0.len()), Some(7));
    }

    #[test]
    fn text_keys_bind_one_array_on_postgres() {
        let stmt = products::Entity::find()
            .filter(key_in(
                DbBackend::Postgres,
                products::Column::Sku,
                ["a", "b"],
            ))
            .build(DbBackend::Postgres);
        assert!(stmt.sql.contains("= ANY($1)"), "{}", stmt.sql);
        assert_eq!(stmt.values.map(|v| v.0.len()), Some(1));
    }
}
