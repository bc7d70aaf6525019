//! Where the whole pipeline stands, from the database (the source of truth).
use std::collections::BTreeMap;

use sea_orm::{
    sea_query::{Alias, Expr, Func},
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, JoinType, PaginatorTrait, QueryFilter,
    QuerySelect, RelationTrait,
};
use serde::Serialize;

use super::_entities::{order_items, order_notifications, orders, products};

/// Counts an operator (or the benchmark) checks to know the run is complete and sound.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PipelineStatus {
    pub orders_by_status: BTreeMap<String, i64>,
    /// Orders not yet paid or failed (pending or reserved).
    pub orders_open: i64,
    pub notifications_by_status: BTreeMap<String, i64>,
    pub kpi_events_unapplied: u64,
    pub products: u64,
    /// Units in stock now.
    pub stock_units: i64,
    /// Units of the items of paid (and later refunded) orders.
    pub sold_units: i64,
}

impl PipelineStatus {
    /// Reads the counts.
    ///
    /// # Errors
    /// Database errors.
    pub async fn read(db: &DatabaseConnection) -> Result<Self, DbErr> {
        let orders_by_status = count_by(
            orders::Entity::find()
                .select_only()
                .column(orders::Column::Status)
                .group_by(orders::Column::Status),
            orders::Column::Id,
            db,
        )
        .await?;
        let notifications_by_status = count_by(
            order_notifications::Entity::find()
                .select_only()
                .column(order_notifications::Column::Status)
                .group_by(order_notifications::Column::Status),
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
            .filter(orders::Column::Status.is_in(["paid", "partially_refunded", "refunded"]))
            .into_tuple()
            .one(db)
            .await?;
        let open = ["pending", "reserved"]
            .iter()
            .map(|s| orders_by_status.get(*s).copied().unwrap_or(0))
            .sum();
        Ok(Self {
            orders_open: open,
            orders_by_status,
            notifications_by_status,
            kpi_events_unapplied: crate::models::kpi::ledger::pending_count(db).await?,
            products: products::Entity::find().count(db).await?,
            stock_units: stock_units.unwrap_or(0),
            sold_units: sold_units.unwrap_or(0),
        })
    }
}

async fn count_by<E, C>(
    query: sea_orm::Select<E>,
    id: C,
    db: &DatabaseConnection,
) -> Result<BTreeMap<String, i64>, DbErr>
where
    E: EntityTrait,
    C: ColumnTrait,
{
    let rows: Vec<(String, i64)> = query
        .column_as(id.count(), "n")
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}
