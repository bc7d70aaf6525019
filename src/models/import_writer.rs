//! Writes one import chunk — customers, products, orders, items and the
//! import's counters — in one transaction, with multi-row statements.
//!
//! Idempotent: the chunk is claimed first with an `import_chunks` row
//! (unique `(import_id, seq)`); a chunk that was applied before writes
//! nothing and only reports its orders still `pending`, so a rerun can queue
//! their workflow again. Every unique key is written in ascending order, so
//! two chunks sharing customers or products wait for each other on
//! PostgreSQL but never deadlock.
use std::collections::{BTreeMap, HashMap};

use sea_orm::{
    sea_query::{ArrayType, Expr, ExprTrait, OnConflict, Query},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
    IdenStatic, QueryFilter, QuerySelect, Statement, TransactionTrait, Value,
};

use super::{
    _entities::{customers, import_chunks, imports, orders, products},
    import::ParsedOrder,
    imports::Model as Import,
    sql::{Dialect, InsertColumn},
    statuses::OrderStatus,
};

/// Bind parameters per statement: far below SQLite's 32,766 and PostgreSQL's
/// 65,535, small enough that one statement never holds a huge buffer.
pub const MAX_PARAMS: usize = 10_000;

/// Why a chunk could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    /// The chunk names an import that does not exist: retrying cannot help.
    #[error("import {0} does not exist")]
    UnknownImport(i64),
    /// Database trouble (busy, connection lost, deadlock): worth another attempt.
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// What applying a chunk did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkOutcome {
    /// First application: `created` are the ids of the new orders.
    Applied { created: Vec<i64>, duplicates: u64 },
    /// Applied before: nothing written; `pending` are the ids of this chunk's
    /// orders that have not started their workflow yet.
    AlreadyApplied { pending: Vec<i64> },
}

impl ChunkOutcome {
    /// Orders whose workflow job should be queued now.
    #[must_use]
    pub fn orders_to_queue(&self) -> &[i64] {
        match self {
            Self::Applied { created, .. } => created,
            Self::AlreadyApplied { pending } => pending,
        }
    }
}

/// One chunk of an import, ready to be written.
pub struct ChunkWrite<'a> {
    pub import_id: i64,
    pub seq: i64,
    pub orders: &'a [ParsedOrder],
    /// Stock of a product the database has never seen (`settings.stock.initial`).
    pub initial_stock: i64,
}

impl ChunkWrite<'_> {
    /// Applies the chunk once, whatever the number of attempts.
    ///
    /// # Errors
    /// [`ChunkError::UnknownImport`] when the import row is gone, otherwise
    /// database errors (the transaction is rolled back).
    pub async fn apply(&self, db: &DatabaseConnection) -> Result<ChunkOutcome, ChunkError> {
        // Customers and products first, in a short transaction of their own:
        // inside the chunk's transaction, a chunk inserting a customer another
        // running chunk had just inserted waited for that whole chunk to
        // commit (measured: about 1 s per statement, 49 s of waiting in a
        // 50,000-order run). They are idempotent upserts, so committing them
        // apart changes nothing when the chunk itself fails or ran before (a
        // rerun finds them all there and inserts nothing).
        if Import::find_by_id(db, self.import_id).await?.is_none() {
            return Err(ChunkError::UnknownImport(self.import_id));
        }
        let upserts = crate::models::write_txn::begin_write(db).await?;
        let customer_ids = self.write_customers(&upserts).await?;
        let product_ids = self.write_products(&upserts).await?;
        upserts.commit().await?;
        let txn = db.begin().await?;
        // Written first: on SQLite the transaction then holds the write lock
        // from its first statement and never has to upgrade a read lock.
        let claim = match self.claim(&txn).await {
            Ok(claim) => claim,
            Err(e) => {
                txn.rollback().await?;
                if Import::find_by_id(db, self.import_id).await?.is_none() {
                    return Err(ChunkError::UnknownImport(self.import_id));
                }
                return Err(e.into());
            }
        };
        let Some(chunk_row) = claim else {
            let pending = self.pending_orders(&txn).await?;
            txn.commit().await?;
            return Ok(ChunkOutcome::AlreadyApplied { pending });
        };
        let (created, duplicates) = self.write_orders(&txn, &customer_ids).await?;
        self.write_items(&txn, &created, &product_ids).await?;
        let created_ids: Vec<i64> = created.values().copied().collect();
        self.count(&txn, chunk_row, created_ids.len() as i64, duplicates)
            .await?;
        txn.commit().await?;
        Ok(ChunkOutcome::Applied {
            created: created_ids,
            duplicates: duplicates.unsigned_abs(),
        })
    }

    /// Inserts the `import_chunks` row; `None` when it already existed.
    async fn claim(&self, txn: &DatabaseTransaction) -> Result<Option<i64>, DbErr> {
        use import_chunks::Column as C;
        let mut insert = Query::insert();
        insert
            .into_table(import_chunks::Entity)
            .columns([
                C::ImportId,
                C::Seq,
                C::OrdersInChunk,
                C::OrdersCreated,
                C::DuplicatesSkipped,
            ])
            .values([
                Expr::val(self.import_id),
                Expr::val(self.seq),
                Expr::val(self.orders.len() as i64),
                Expr::val(0i64),
                Expr::val(0i64),
            ])
            .map_err(sql_error)?
            .on_conflict(
                OnConflict::columns([C::ImportId, C::Seq])
                    .do_nothing()
                    .to_owned(),
            )
            .returning_col(C::Id);
        let row = txn.query_one(&insert).await?;
        row.map(|row| row.try_get_by_index::<i64>(0)).transpose()
    }

    /// Ids of this chunk's orders, created by this import, still `pending`.
    async fn pending_orders(&self, txn: &DatabaseTransaction) -> Result<Vec<i64>, DbErr> {
        let mut ids = Vec::new();
        for batch in self.orders.chunks(MAX_PARAMS) {
            let external_ids = batch.iter().map(|o| o.external_id.as_str());
            let found: Vec<i64> = orders::Entity::find()
                .select_only()
                .column(orders::Column::Id)
                .filter(orders::Column::ImportId.eq(self.import_id))
                .filter(orders::Column::Status.eq(OrderStatus::Pending))
                .filter(super::sql::key_in(
                    txn.get_database_backend(),
                    orders::Column::ExternalId,
                    external_ids,
                ))
                .into_tuple()
                .all(txn)
                .await?;
            ids.extend(found);
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// Inserts unknown customers (known ones are left as they are); returns
    /// the id of every customer of the chunk by external id.
    ///
    /// Known rows are read first and only missing ones inserted: an insert that
    /// meets an existing key waits for every transaction still writing that row
    /// (the unique check), and products are rewritten all the time by the
    /// workflow. Measured: the upsert of every key of a chunk took 30–44 ms per
    /// statement, waiting on workflow transactions.
    async fn write_customers(
        &self,
        txn: &DatabaseTransaction,
    ) -> Result<HashMap<String, i64>, DbErr> {
        use customers::Column as C;
        let mut wanted = BTreeMap::new();
        for order in self.orders {
            wanted
                .entry(order.customer.external_id.as_str())
                .or_insert(&order.customer);
        }
        insert_missing::<customers::Entity, _, 3>(
            txn,
            (C::Id, C::ExternalId),
            &[
                ("external_id", "text", ArrayType::String),
                ("email", "text", ArrayType::String),
                ("name", "text", ArrayType::String),
            ],
            &wanted,
            |customer| {
                [
                    customer.external_id.as_str().into(),
                    customer.email.clone().into(),
                    customer.name.clone().into(),
                ]
            },
        )
        .await
    }

    /// Inserts unknown products with the initial stock and the item's unit
    /// price; an existing product's stock and price are never touched (nor
    /// waited for: see [`Self::write_customers`]).
    async fn write_products(
        &self,
        txn: &DatabaseTransaction,
    ) -> Result<HashMap<String, i64>, DbErr> {
        use products::Column as C;
        let mut wanted = BTreeMap::new();
        for item in self.orders.iter().flat_map(|o| &o.items) {
            wanted.entry(item.sku.as_str()).or_insert(item);
        }
        insert_missing::<products::Entity, _, 4>(
            txn,
            (C::Id, C::Sku),
            &[
                ("sku", "text", ArrayType::String),
                ("name", "text", ArrayType::String),
                ("price_cents", "int8", ArrayType::BigInt),
                ("stock", "int8", ArrayType::BigInt),
            ],
            &wanted,
            |item| {
                [
                    item.sku.as_str().into(),
                    item.name.as_str().into(),
                    item.unit_price_cents.into(),
                    self.initial_stock.into(),
                ]
            },
        )
        .await
    }

    /// Inserts the orders whose external id is new; returns them (external
    /// id → order id) and how many were duplicates.
    async fn write_orders(
        &self,
        txn: &DatabaseTransaction,
        customer_ids: &HashMap<String, i64>,
    ) -> Result<(BTreeMap<String, i64>, i64), DbErr> {
        let mut unique: BTreeMap<&str, &ParsedOrder> = BTreeMap::new();
        for order in self.orders {
            unique.entry(order.external_id.as_str()).or_insert(order);
        }
        let mut rows = Vec::with_capacity(unique.len());
        for order in unique.values() {
            let customer_id = customer_ids
                .get(&order.customer.external_id)
                .copied()
                .ok_or_else(|| {
                    DbErr::Custom(format!(
                        "customer {} of order {} was not written",
                        order.customer.external_id, order.external_id
                    ))
                })?;
            let total = order.checked_total_cents().ok_or_else(|| {
                DbErr::Custom(format!("order {}: total overflows", order.external_id))
            })?;
            rows.push([
                order.external_id.as_str().into(),
                customer_id.into(),
                self.import_id.into(),
                OrderStatus::Pending.as_str().into(),
                order.currency.as_str().into(),
                total.into(),
                order.placed_at.map(|at| at.fixed_offset()).into(),
            ]);
        }
        let mut created = BTreeMap::new();
        for insert in inserts(
            Dialect::of(txn),
            "orders",
            &[
                ("external_id", "text", ArrayType::String),
                ("customer_id", "int8", ArrayType::BigInt),
                ("import_id", "int8", ArrayType::BigInt),
                ("status", "text", ArrayType::String),
                ("currency", "text", ArrayType::String),
                ("total_cents", "int8", ArrayType::BigInt),
                (
                    "placed_at",
                    "timestamptz",
                    ArrayType::ChronoDateTimeWithTimeZone,
                ),
            ],
            "ON CONFLICT (external_id) DO NOTHING RETURNING id, external_id",
            rows,
        ) {
            for row in txn.query_all_raw(insert).await? {
                let id: i64 = row.try_get_by_index(0)?;
                let external_id: String = row.try_get_by_index(1)?;
                created.insert(external_id, id);
            }
        }
        let duplicates = self.orders.len() - created.len();
        Ok((created, duplicates as i64))
    }

    /// Items of the new orders only; `line_no` is the item's 1-based position.
    async fn write_items(
        &self,
        txn: &DatabaseTransaction,
        created: &BTreeMap<String, i64>,
        product_ids: &HashMap<String, i64>,
    ) -> Result<(), DbErr> {
        let mut rows: Vec<[Value; 5]> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for order in self.orders {
            let Some(&order_id) = created.get(&order.external_id) else {
                continue;
            };
            // A duplicate id inside the chunk: only the first order was inserted.
            if !seen.insert(order_id) {
                continue;
            }
            for (position, item) in order.items.iter().enumerate() {
                let product_id = product_ids.get(&item.sku).copied().ok_or_else(|| {
                    DbErr::Custom(format!("product {} was not written", item.sku))
                })?;
                let line_no = i32::try_from(position + 1).unwrap_or(i32::MAX);
                rows.push([
                    order_id.into(),
                    product_id.into(),
                    line_no.into(),
                    item.qty.into(),
                    item.unit_price_cents.into(),
                ]);
            }
        }
        for insert in inserts(
            Dialect::of(txn),
            "order_items",
            &[
                ("order_id", "int8", ArrayType::BigInt),
                ("product_id", "int8", ArrayType::BigInt),
                ("line_no", "int4", ArrayType::Int),
                ("qty", "int8", ArrayType::BigInt),
                ("unit_price_cents", "int8", ArrayType::BigInt),
            ],
            "",
            rows,
        ) {
            txn.execute_raw(insert).await?;
        }
        Ok(())
    }

    /// The chunk's own counts, the import's counters, then the import is
    /// finalized if this was its last chunk.
    async fn count(
        &self,
        txn: &DatabaseTransaction,
        chunk_row: i64,
        created: i64,
        duplicates: i64,
    ) -> Result<(), DbErr> {
        import_chunks::Entity::update_many()
            .col_expr(import_chunks::Column::OrdersCreated, Expr::val(created))
            .col_expr(
                import_chunks::Column::DuplicatesSkipped,
                Expr::val(duplicates),
            )
            .filter(import_chunks::Column::Id.eq(chunk_row))
            .exec(txn)
            .await?;
        use imports::Column as C;
        imports::Entity::update_many()
            .col_expr(C::OrdersCreated, Expr::col(C::OrdersCreated).add(created))
            .col_expr(
                C::DuplicatesSkipped,
                Expr::col(C::DuplicatesSkipped).add(duplicates),
            )
            .col_expr(C::ChunksDone, Expr::col(C::ChunksDone).add(1))
            .col_expr(C::UpdatedAt, Expr::val(chrono::Utc::now().naive_utc()))
            .filter(C::Id.eq(self.import_id))
            .exec(txn)
            .await?;
        Import::finalize(txn, self.import_id).await?;
        Ok(())
    }
}

fn sql_error(e: sea_orm::sea_query::error::Error) -> DbErr {
    DbErr::Custom(format!("building SQL: {e}"))
}

/// Refreshes PostgreSQL's statistics of the tables an import fills, when they
/// are stale: `orders` holds twice the rows they say.
///
/// Autovacuum analyzes a table a minute or more after it grew; until then the
/// planner thinks the tables are as small as they were when the import began
/// and answers the workflow's batch lookups (`order_id IN (…)`) with
/// sequential scans. Measured in a 50,000-order run from an empty database:
/// 358 sequential scans of `order_items` reading 40.8 million rows (4 after
/// this). Only when stale: a stream of small imports into large tables ran
/// one ANALYZE per import (0.5 s of PostgreSQL each, at 8,400 orders/s one a
/// second), which the statistics did not need. Best effort: a failure is
/// logged only. Returns whether it ran ANALYZE.
pub async fn refresh_planner_statistics(db: &DatabaseConnection) -> bool {
    use sea_orm::ConnectionTrait;
    let dialect = super::sql::Dialect::of(db);
    let tables = "customers, products, orders, order_items, order_notifications, kpi_events";
    let (Some(stale), Some(analyze)) =
        (dialect.statistics_stale("orders"), dialect.analyze(tables))
    else {
        return false;
    };
    let stale = db
        .query_one_raw(dialect.statement(&stale, vec![]))
        .await
        .and_then(|row| row.map_or(Ok(false), |row| row.try_get_by_index::<bool>(0)));
    match stale {
        Ok(false) => false,
        Ok(true) => match db.execute_unprepared(&analyze).await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "refreshing the planner statistics failed");
                false
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "reading the planner statistics' age failed");
            false
        }
    }
}

/// Ids by natural key of the rows of `E` in `wanted` (key → source): the ids
/// of those that exist, after inserting the others in statements of at most
/// [`MAX_PARAMS`] values, `row` giving each one's values in the order of
/// `columns` (the key first). An existing row is never touched: a key another
/// chunk inserts meanwhile is left to it (`ON CONFLICT DO NOTHING`).
async fn insert_missing<E: EntityTrait, T, const N: usize>(
    txn: &DatabaseTransaction,
    (id, key): (E::Column, E::Column),
    columns: &[InsertColumn; N],
    wanted: &BTreeMap<&str, &T>,
    row: impl Fn(&T) -> [Value; N],
) -> Result<HashMap<String, i64>, DbErr> {
    let keys: Vec<&str> = wanted.keys().copied().collect();
    let mut ids = ids_by_key::<E>(txn, id, key, &keys).await?;
    let missing: Vec<(&str, &T)> = wanted
        .iter()
        .filter(|(key, _)| !ids.contains_key(**key))
        .map(|(key, source)| (*key, *source))
        .collect();
    if missing.is_empty() {
        return Ok(ids);
    }
    let table = E::default().table_name().to_owned();
    let on_conflict = format!("ON CONFLICT ({}) DO NOTHING", key.as_str());
    // Collected before the loop: a closure's iterator held across the awaits
    // below would make the future not `Send` (a higher-ranked lifetime).
    let rows: Vec<[Value; N]> = missing.iter().map(|(_, source)| row(source)).collect();
    for insert in inserts(Dialect::of(txn), &table, columns, &on_conflict, rows) {
        txn.execute_raw(insert).await?;
    }
    let missing_keys: Vec<&str> = missing.iter().map(|(key, _)| *key).collect();
    ids.extend(ids_by_key::<E>(txn, id, key, &missing_keys).await?);
    Ok(ids)
}

/// The statements that insert `rows` into `table` ([`Dialect::insert_rows`]),
/// each binding at most [`MAX_PARAMS`] values. Rows are moved into them, not
/// copied.
fn inserts<'a, const N: usize>(
    dialect: Dialect,
    table: &'a str,
    columns: &'a [InsertColumn; N],
    tail: &'a str,
    rows: impl IntoIterator<Item = [Value; N]> + 'a,
) -> impl Iterator<Item = Statement> + 'a {
    let mut rows = rows.into_iter().peekable();
    std::iter::from_fn(move || {
        rows.peek()?;
        Some(dialect.insert_rows(table, columns, tail, rows.by_ref().take(MAX_PARAMS / N)))
    })
}

/// Ids by natural key (`key` column, e.g. a SKU) of the rows of `E` that exist.
async fn ids_by_key<E: EntityTrait>(
    txn: &DatabaseTransaction,
    id: E::Column,
    key: E::Column,
    keys: &[&str],
) -> Result<HashMap<String, i64>, DbErr> {
    let mut ids = HashMap::with_capacity(keys.len());
    for batch in keys.chunks(MAX_PARAMS) {
        let found: Vec<(i64, String)> = E::find()
            .select_only()
            .columns([id, key])
            .filter(super::sql::key_in(
                txn.get_database_backend(),
                key,
                batch.iter().copied(),
            ))
            .into_tuple()
            .all(txn)
            .await?;
        ids.extend(found.into_iter().map(|(id, key)| (key, id)));
    }
    Ok(ids)
}
