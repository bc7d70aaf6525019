//! Where the whole pipeline stands, from the database (the source of truth).
use std::collections::BTreeMap;

use sea_orm::{
    sea_query::{Alias, Expr, Func},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, JoinType, PaginatorTrait,
    QueryFilter, QuerySelect, RelationTrait, Statement,
};
use serde::Serialize;

use super::{
    _entities::{imports, order_items, order_notifications, orders, products},
    statuses::{ImportState, NotificationStatus, OrderStatus},
};

/// Counts an operator (or the benchmark) checks to know the run is complete and sound.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PipelineStatus {
    pub orders_total: i64,
    pub orders_by_status: BTreeMap<String, i64>,
    /// Orders not yet paid or failed (pending or reserved).
    pub orders_open: i64,
    pub notifications_by_status: BTreeMap<String, i64>,
    pub kpi_events_unapplied: u64,
    /// Imports still queued or writing their chunks.
    pub imports_unfinished: u64,
    pub products: u64,
    /// Units in stock now.
    pub stock_units: i64,
    /// Units of the items of paid (and later refunded) orders.
    pub sold_units: i64,
    /// Orders exist and nothing is left to do: no import still writing, no
    /// open order, no queued notification, no KPI event waiting for Redis.
    /// Scripts wait for this.
    pub settled: bool,
}

impl PipelineStatus {
    /// Reads the counts.
    ///
    /// # Errors
    /// Database errors.
    pub async fn read(db: &DatabaseConnection) -> Result<Self, DbErr> {
        let orders_by_status =
            count_by::<orders::Entity>(orders::Column::Status, orders::Column::Id, db).await?;
        let notifications_by_status = count_by::<order_notifications::Entity>(
            order_notifications::Column::Status,
            order_notifications::Column::Id,
            db,
        )
        .await?;
        let sum = |col: Expr| -> sea_orm::sea_query::SimpleExpr {
            let parts: [sea_orm::sea_query::SimpleExpr; 2] = [Func::sum(col).into(), Expr::val(0)];
            Func::cast_as(Func::coalesce(parts), Alias::new("BIGINT")).into()
        };
        let stock_units: Option<i64> = products::Entity::find()
            .select_only()
            .column_as(
                sum(Expr::col((products::Entity, products::Column::Stock))),
                "units",
            )
            .into_tuple()
            .one(db)
            .await?;
        let sold_units: Option<i64> = order_items::Entity::find()
            .select_only()
            .column_as(
                sum(Expr::col((order_items::Entity, order_items::Column::Qty))),
                "units",
            )
            .join(JoinType::InnerJoin, order_items::Relation::Orders.def())
            .filter(orders::Column::Status.is_in(OrderStatus::SOLD))
            .into_tuple()
            .one(db)
            .await?;
        let open = OrderStatus::OPEN
            .iter()
            .map(|s| orders_by_status.get(s.as_str()).copied().unwrap_or(0))
            .sum();
        let orders_total = orders_by_status.values().sum();
        let imports_unfinished = imports::Entity::find()
            .filter(imports::Column::State.is_in([ImportState::Queued, ImportState::Importing]))
            .count(db)
            .await?;
        let kpi_events_unapplied = crate::models::kpi::ledger::pending_count(db).await?;
        let notifications_queued = notifications_by_status
            .get(NotificationStatus::Queued.as_str())
            .copied()
            .unwrap_or(0);
        Ok(Self {
            orders_total,
            orders_open: open,
            settled: orders_total > 0
                && imports_unfinished == 0
                && open == 0
                && notifications_queued == 0
                && kpi_events_unapplied == 0,
            orders_by_status,
            notifications_by_status,
            kpi_events_unapplied,
            imports_unfinished,
            products: products::Entity::find().count(db).await?,
            stock_units: stock_units.unwrap_or(0),
            sold_units: sold_units.unwrap_or(0),
        })
    }
}

/// Rows of `E` per value of its `status` column.
async fn count_by<E: EntityTrait>(
    status: E::Column,
    id: E::Column,
    db: &DatabaseConnection,
) -> Result<BTreeMap<String, i64>, DbErr> {
    let rows: Vec<(String, i64)> = E::find()
        .select_only()
        .column(status)
        .group_by(status)
        .column_as(id.count(), "n")
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Orders that do not have exactly one notification (none, or more than one).
///
/// # Errors
/// Database errors.
pub async fn orders_without_one_notification(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let sql = "SELECT COUNT(*) AS n FROM orders o \
               WHERE (SELECT COUNT(*) FROM order_notifications n WHERE n.order_id = o.id) <> 1";
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    let n: i64 = row.map(|r| r.try_get("", "n")).transpose()?.unwrap_or(0);
    Ok(n.unsigned_abs())
}

/// How long orders took from being written by the import to paid or failed.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct OrderLatency {
    pub finished: u64,
    pub p50_ms: i64,
    pub p99_ms: i64,
    /// When the first order was paid, in milliseconds since the Unix epoch.
    pub first_paid_at_ms: Option<i64>,
}

impl OrderLatency {
    /// Reads every finished order's two timestamps (one pass, two columns:
    /// about a second at 1,000,000 orders) and takes the percentiles here, the
    /// same way on both databases.
    ///
    /// # Errors
    /// Database errors.
    pub async fn read(db: &DatabaseConnection) -> Result<Self, DbErr> {
        let rows: Vec<(
            OrderStatus,
            chrono::NaiveDateTime,
            Option<chrono::DateTime<chrono::FixedOffset>>,
        )> = orders::Entity::find()
            .select_only()
            .column(orders::Column::Status)
            .column(orders::Column::CreatedAt)
            .column(orders::Column::FinishedAt)
            .filter(orders::Column::FinishedAt.is_not_null())
            .into_tuple()
            .all(db)
            .await?;
        let mut took: Vec<i64> = Vec::with_capacity(rows.len());
        let mut first_paid_at_ms: Option<i64> = None;
        for (status, created, finished) in rows {
            let Some(finished) = finished else { continue };
            took.push((finished.naive_utc() - created).num_milliseconds());
            if status == OrderStatus::Paid {
                let at = finished.timestamp_millis();
                first_paid_at_ms = Some(first_paid_at_ms.map_or(at, |f| f.min(at)));
            }
        }
        took.sort_unstable();
        let pick = |q: usize| {
            took.get((took.len() * q / 100).min(took.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0)
        };
        Ok(Self {
            finished: took.len() as u64,
            p50_ms: pick(50),
            p99_ms: pick(99),
            first_paid_at_ms,
        })
    }
}
