//! Statements whose text does not change with the number of values they carry.
//!
//! `col IN ($1, $2, …)` is a new statement for every list length: PostgreSQL
//! parses and plans each one afresh and the driver's statement cache churns.
//! Batches of the workflow, the import and the outbox vary in size all the
//! time, and `perf` put parsing and planning at about a fifth of PostgreSQL's
//! CPU in a 300,000-order run. On PostgreSQL these helpers bind the whole list
//! as one array parameter instead (`col = ANY($1)`, `UNNEST($1, $2, …)`), so
//! each statement is parsed once per connection and its plan reused. SQLite
//! has no arrays and plans cheaply: it keeps the plain forms.
use sea_orm::{
    sea_query::{extension::postgres::PgFunc, ArrayType, Expr, ExprTrait, SimpleExpr},
    ColumnTrait, DbBackend, Statement, Value,
};

/// `col IN (ids)`: `col = ANY($1)` on PostgreSQL.
pub fn id_in<C: ColumnTrait>(
    backend: DbBackend,
    col: C,
    ids: impl IntoIterator<Item = i64>,
) -> SimpleExpr {
    any_of(backend, col, ArrayType::BigInt, ids)
}

/// `col IN (keys)` for text keys: `col = ANY($1)` on PostgreSQL.
pub fn key_in<'a, C: ColumnTrait>(
    backend: DbBackend,
    col: C,
    keys: impl IntoIterator<Item = &'a str>,
) -> SimpleExpr {
    any_of(backend, col, ArrayType::String, keys)
}

/// `col IN (values)`, or `col = ANY($1)` with one array of `ty` on PostgreSQL.
fn any_of<C: ColumnTrait, V: Into<Value>>(
    backend: DbBackend,
    col: C,
    ty: ArrayType,
    values: impl IntoIterator<Item = V>,
) -> SimpleExpr {
    match backend {
        DbBackend::Postgres => col.into_expr().eq(PgFunc::any(Expr::val(array(
            ty,
            values.into_iter().map(Into::into),
        )))),
        _ => col.is_in(values),
    }
}

/// `INSERT INTO table (columns) SELECT * FROM UNNEST($1::type[], …) tail` for
/// PostgreSQL: one array per column (`columns` are (name, SQL type) pairs,
/// `arrays` in the same order), the same text for any number of rows.
#[must_use]
pub fn unnest_insert(
    table: &str,
    columns: &[(&str, &str)],
    tail: &str,
    arrays: Vec<Value>,
) -> Statement {
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let params: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, (_, ty))| format!("${}::{ty}[]", i + 1))
        .collect();
    let sql = format!(
        "INSERT INTO {table} ({}) SELECT * FROM UNNEST({}) {tail}",
        names.join(", "),
        params.join(", ")
    );
    Statement::from_sql_and_values(DbBackend::Postgres, sql, arrays)
}

/// One PostgreSQL array parameter of `ty` holding `values`.
///
/// No element may be NULL: sea-query-sqlx binds the array as a `Vec` of plain
/// values and panics on a NULL element, so nullable columns stay out of
/// [`unnest_insert`].
pub fn array(ty: ArrayType, values: impl IntoIterator<Item = Value>) -> Value {
    Value::Array(ty, Some(Box::new(values.into_iter().collect())))
}

#[cfg(test)]
mod tests {
    use sea_orm::{DbBackend, EntityTrait, QueryFilter, QueryTrait};

    use super::{id_in, key_in};
    use crate::models::_entities::{orders, products};

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
    fn on_sqlite_it_is_a_plain_in_list() {
        let sql = sql_of(DbBackend::Sqlite, vec![1, 2, 3]);
        assert!(sql.contains("IN (?, ?, ?)"), "{sql}");
    }

    #[test]
    fn unnest_insert_binds_one_array_per_column() {
        let stmt = super::unnest_insert(
            "t",
            &[("a", "int8"), ("b", "text")],
            "ON CONFLICT DO NOTHING",
            vec![
                super::array(sea_orm::sea_query::ArrayType::BigInt, [1_i64.into()]),
                super::array(sea_orm::sea_query::ArrayType::String, ["x".into()]),
            ],
        );
        assert_eq!(
            stmt.sql,
            "INSERT INTO t (a, b) SELECT * FROM UNNEST($1::int8[], $2::text[]) ON CONFLICT DO NOTHING"
        );
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
