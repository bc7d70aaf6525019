//! The database side of the figures: the outbox rows and what they add up to.
use std::collections::BTreeMap;

use sea_orm::{
    sea_query::Expr, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, JoinType, QueryFilter,
    QueryOrder, QuerySelect, RelationTrait,
};

use super::{
    figures::{DayFigures, Expected},
    store::EventArgs,
};
use crate::models::_entities::{customers, kpi_events};

/// Which events to add up: all, or those up to an id, optionally of one day.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub up_to_id: Option<i64>,
    pub day: Option<String>,
}

impl Scope {
    fn apply<Q: QueryFilter>(&self, query: Q) -> Q {
        let query = match self.up_to_id {
            Some(max) => query.filter(kpi_events::Column::Id.lte(max)),
            None => query,
        };
        match &self.day {
            Some(day) => query.filter(kpi_events::Column::Day.eq(day.clone())),
            None => query,
        }
    }
}

/// Unapplied events, oldest first, with the customer's external id.
///
/// # Errors
/// Database errors.
pub async fn unapplied<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    limit: Option<u64>,
) -> Result<Vec<EventArgs>, DbErr> {
    let rows: Vec<(i64, String, i64, String, String)> = scope
        .apply(
            kpi_events::Entity::find()
                .select_only()
                .column(kpi_events::Column::Id)
                .column(kpi_events::Column::Kind)
                .column(kpi_events::Column::RevenueDeltaCents)
                .column(customers::Column::ExternalId)
                .column(kpi_events::Column::Day)
                .join(JoinType::InnerJoin, kpi_events::Relation::Customers.def())
                .filter(kpi_events::Column::AppliedAt.is_null()),
        )
        .order_by_asc(kpi_events::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, kind, revenue_delta_cents, customer, day)| EventArgs {
            id,
            kind,
            revenue_delta_cents,
            customer,
            day,
        })
        .collect())
}

/// Marks events applied (they are in Redis now).
///
/// # Errors
/// Database errors.
pub async fn mark_applied<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    kpi_events::Entity::update_many()
        .col_expr(
            kpi_events::Column::AppliedAt,
            Expr::value(chrono::Utc::now()),
        )
        .filter(crate::models::sql::id_in(
            db.get_database_backend(),
            kpi_events::Column::Id,
            ids.iter().copied(),
        ))
        .exec(db)
        .await?;
    Ok(())
}

/// Marks every unapplied event in `scope` applied (after a rebuild counted them).
///
/// # Errors
/// Database errors.
pub async fn mark_scope_applied<C: ConnectionTrait>(db: &C, scope: &Scope) -> Result<u64, DbErr> {
    let update = scope.apply(
        kpi_events::Entity::update_many()
            .col_expr(
                kpi_events::Column::AppliedAt,
                Expr::value(chrono::Utc::now()),
            )
            .filter(kpi_events::Column::AppliedAt.is_null()),
    );
    Ok(update.exec(db).await?.rows_affected)
}

/// The newest event id, the edge of a rebuild's snapshot.
///
/// # Errors
/// Database errors.
pub async fn max_id<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    let max: Option<Option<i64>> = kpi_events::Entity::find()
        .select_only()
        .column_as(kpi_events::Column::Id.max(), "max")
        .into_tuple()
        .one(db)
        .await?;
    Ok(max.flatten().unwrap_or(0))
}

/// What the events in `scope` add up to: the figures Redis must hold.
///
/// # Errors
/// Database errors.
pub async fn expected<C: ConnectionTrait>(db: &C, scope: &Scope) -> Result<Expected, DbErr> {
    let mut out = Expected::default();
    let per_kind: Vec<(String, String, i64, Option<i64>)> = scope
        .apply(
            kpi_events::Entity::find()
                .select_only()
                .column(kpi_events::Column::Day)
                .column(kpi_events::Column::Kind)
                .column_as(kpi_events::Column::Id.count(), "n")
                .column_as(sum_cents(), "cents"),
        )
        .group_by(kpi_events::Column::Day)
        .group_by(kpi_events::Column::Kind)
        .into_tuple()
        .all(db)
        .await?;
    for (day, kind, n, cents) in per_kind {
        let cents = cents.unwrap_or(0);
        let figures: &mut DayFigures = out.days.entry(day).or_default();
        match kind.as_str() {
            "order_paid" => {
                figures.order_count += n;
                figures.revenue_cents += cents;
            }
            "order_failed" => figures.failed_count += n,
            "refund_processed" => {
                figures.refund_count += n;
                figures.revenue_cents += cents;
                figures.refunded_cents -= cents;
            }
            _ => {}
        }
    }
    let per_customer: Vec<(String, String, Option<i64>)> = scope
        .apply(
            kpi_events::Entity::find()
                .select_only()
                .column(kpi_events::Column::Day)
                .column(customers::Column::ExternalId)
                .column_as(sum_cents(), "cents")
                .join(JoinType::InnerJoin, kpi_events::Relation::Customers.def())
                .filter(kpi_events::Column::Kind.is_in(["order_paid", "refund_processed"])),
        )
        .group_by(kpi_events::Column::Day)
        .group_by(customers::Column::ExternalId)
        .into_tuple()
        .all(db)
        .await?;
    for (day, customer, cents) in per_customer {
        let cents = cents.unwrap_or(0);
        *out.all_time.entry(customer.clone()).or_default() += cents;
        out.day_boards
            .entry(day)
            .or_default()
            .insert(customer, cents);
    }
    Ok(out)
}

/// `CAST(SUM(revenue_delta_cents) AS BIGINT)`: PostgreSQL sums bigints as numeric.
fn sum_cents() -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::sea_query::{Alias, Func};
    Func::cast_as(
        Func::sum(Expr::col((
            kpi_events::Entity,
            kpi_events::Column::RevenueDeltaCents,
        ))),
        Alias::new("BIGINT"),
    )
    .into()
}

/// How many events wait to be applied.
///
/// # Errors
/// Database errors.
pub async fn pending_count<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    kpi_events::Entity::find()
        .filter(kpi_events::Column::AppliedAt.is_null())
        .count(db)
        .await
}

/// Days with any event, for listings.
pub type Days = BTreeMap<String, DayFigures>;
