//! The database side of the figures: the outbox rows and what they add up to.
use std::collections::{BTreeMap, HashSet};

use sea_orm::{
    sea_query::{Expr, ExprTrait, SimpleExpr},
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait,
};

use super::{
    cursor::{self, Cursor, Position},
    figures::{DayFigures, Expected},
    store::EventArgs,
};
use crate::models::{
    _entities::{customers, kpi_events},
    sql::Dialect,
};

/// Which events to add up: all, or those of one day.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub day: Option<String>,
}

impl Scope {
    fn apply<Q: QueryFilter>(&self, query: Q) -> Q {
        match &self.day {
            Some(day) => query.filter(kpi_events::Column::Day.eq(day.clone())),
            None => query,
        }
    }
}

/// Which committed events a read may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Only events no running transaction can add to: what a drainer may pass.
    Only,
    /// Every event this snapshot sees (a rebuild counts exactly those).
    Visible,
}

/// What a read past the cursor found.
#[derive(Debug, Default)]
pub struct Past {
    /// The events Redis has not seen, in outbox order (skips left out).
    pub events: Vec<(Position, EventArgs)>,
    /// The last event read, skipped or not: where a drainer may move the cursor.
    pub last: Option<Position>,
    /// Rows read, skips included: a full page means there may be more.
    pub read: usize,
}

/// Events past the `cursor` in outbox order, with their positions and the
/// customer's external id, leaving out those a rebuild listed as skips and the
/// rows applied under the old flag (before migration 9).
///
/// # Errors
/// Database errors.
pub async fn past_cursor<C: ConnectionTrait>(
    db: &C,
    cursor: &Cursor,
    scope: &Scope,
    settled: Settled,
    limit: Option<u64>,
) -> Result<Past, DbErr> {
    let mut query = kpi_events::Entity::find()
        .select_only()
        .column(kpi_events::Column::Tx)
        .column(kpi_events::Column::Id)
        .column(kpi_events::Column::Kind)
        .column(kpi_events::Column::RevenueDeltaCents)
        .column(customers::Column::ExternalId)
        .column(kpi_events::Column::Day)
        .join(JoinType::InnerJoin, kpi_events::Relation::Customers.def())
        .filter(past(cursor.at))
        .filter(kpi_events::Column::AppliedAt.is_null());
    if settled == Settled::Only {
        query = Dialect::of(db).settled(query, "kpi_events.tx");
    }
    let rows: Vec<(i64, i64, String, i64, String, String)> = scope
        .apply(query)
        .order_by_asc(kpi_events::Column::Tx)
        .order_by_asc(kpi_events::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    let read = rows.len();
    let last = rows.last().map(|row| (row.0, row.1));
    let skipped = match last {
        Some(last) => cursor::skips_between(db, cursor.at, last).await?,
        None => HashSet::new(),
    };
    let events = rows
        .into_iter()
        .filter(|row| !skipped.contains(&row.1))
        .map(|(tx, id, kind, revenue_delta_cents, customer, day)| {
            (
                (tx, id),
                EventArgs {
                    id,
                    kind,
                    revenue_delta_cents,
                    customer,
                    day,
                },
            )
        })
        .collect();
    Ok(Past { events, last, read })
}

/// Events Redis has not seen yet, oldest first: past the cursor, not skipped,
/// committed by transactions that have all ended.
///
/// # Errors
/// Database errors.
pub async fn unapplied<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    limit: Option<u64>,
) -> Result<Vec<EventArgs>, DbErr> {
    let cursor = Cursor::read(db).await?;
    let past = past_cursor(db, &cursor, scope, Settled::Only, limit).await?;
    Ok(past.events.into_iter().map(|(_, e)| e).collect())
}

/// Where a full rebuild may put the cursor: the last event of the snapshot
/// that no running transaction can precede, or `at` if that is further.
///
/// # Errors
/// Database errors.
pub async fn settled_end<C: ConnectionTrait>(db: &C, at: Position) -> Result<Position, DbErr> {
    let query = kpi_events::Entity::find()
        .select_only()
        .column(kpi_events::Column::Tx)
        .column(kpi_events::Column::Id);
    let last: Option<Position> = Dialect::of(db)
        .settled(query, "kpi_events.tx")
        .order_by_desc(kpi_events::Column::Tx)
        .order_by_desc(kpi_events::Column::Id)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    Ok(last.map_or(at, |last| last.max(at)))
}

/// Positions of the events past `at` that this snapshot sees.
///
/// # Errors
/// Database errors.
pub async fn positions_after<C: ConnectionTrait>(
    db: &C,
    at: Position,
) -> Result<Vec<Position>, DbErr> {
    kpi_events::Entity::find()
        .select_only()
        .column(kpi_events::Column::Tx)
        .column(kpi_events::Column::Id)
        .filter(past(at))
        .filter(kpi_events::Column::AppliedAt.is_null())
        .into_tuple()
        .all(db)
        .await
}

/// `(kpi_events.tx, kpi_events.id) > at`.
fn past(at: Position) -> SimpleExpr {
    let column = |c: kpi_events::Column| Expr::col((kpi_events::Entity, c));
    Expr::tuple([
        column(kpi_events::Column::Tx),
        column(kpi_events::Column::Id),
    ])
    .gt(Expr::tuple([Expr::val(at.0), Expr::val(at.1)]))
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

/// How many committed events wait to be applied.
///
/// # Errors
/// Database errors.
pub async fn pending_count<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    cursor::pending(db).await
}

/// Days with any event, for listings.
pub type Days = BTreeMap<String, DayFigures>;
