//! The `imports` row: one per `orders_import` run, from `queued` to `done`,
//! `failed` or `interrupted`.
pub use super::_entities::imports::{ActiveModel, Column, Entity, Model};
use chrono::Utc;
use sea_orm::{
    entity::prelude::*,
    sea_query::{Expr, ExprTrait},
    ActiveValue::Set,
    QuerySelect,
};
use serde::Serialize;

use super::{
    _entities::orders,
    statuses::{ImportState, OrderStatus},
};
pub type Imports = Entity;

#[async_trait::async_trait]
impl ActiveModelBehavior for ActiveModel {}

/// What the task learnt from the file, written onto the row as it goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileCounts {
    pub rows_read: u64,
    pub orders_read: u64,
    pub rows_rejected: u64,
    pub warnings: u64,
}

/// How many of an import's orders are in each status right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OrderStatusCounts {
    pub pending: i64,
    pub reserved: i64,
    pub paid: i64,
    pub failed: i64,
    pub partially_refunded: i64,
    pub refunded: i64,
}

impl Model {
    /// The import with this id, if any.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn find_by_id(db: &impl ConnectionTrait, id: i64) -> Result<Option<Self>, DbErr> {
        Entity::find_by_id(id).one(db).await
    }

    /// The `limit` newest imports, newest first.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn newest(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<Self>, DbErr> {
        use sea_orm::QueryOrder;
        Entity::find()
            .order_by_desc(Column::Id)
            .limit(limit)
            .all(db)
            .await
    }

    /// Counts the import's orders by status, in one `GROUP BY` query.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn order_status_counts(
        &self,
        db: &impl ConnectionTrait,
    ) -> Result<OrderStatusCounts, DbErr> {
        let rows: Vec<(OrderStatus, i64)> = orders::Entity::find()
            .select_only()
            .column(orders::Column::Status)
            .column_as(orders::Column::Id.count(), "n")
            .filter(orders::Column::ImportId.eq(self.id))
            .group_by(orders::Column::Status)
            .into_tuple()
            .all(db)
            .await?;
        let mut counts = OrderStatusCounts::default();
        for (status, n) in rows {
            let slot = match status {
                OrderStatus::Pending => &mut counts.pending,
                OrderStatus::Reserved => &mut counts.reserved,
                OrderStatus::Paid => &mut counts.paid,
                OrderStatus::Failed => &mut counts.failed,
                OrderStatus::PartiallyRefunded => &mut counts.partially_refunded,
                OrderStatus::Refunded => &mut counts.refunded,
            };
            *slot = n;
        }
        Ok(counts)
    }

    /// Records a new import of `file_name` in state `queued`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn create_queued(
        db: &impl ConnectionTrait,
        file_name: &str,
        format: &str,
    ) -> Result<Self, DbErr> {
        ActiveModel {
            file_name: Set(file_name.to_owned()),
            format: Set(Some(format.to_owned())),
            state: Set(ImportState::Queued),
            ..Default::default()
        }
        .insert(db)
        .await
    }

    /// Writes the counts read so far, so `GET /api/imports/{id}` shows progress.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn record_counts(
        db: &impl ConnectionTrait,
        id: i64,
        counts: FileCounts,
    ) -> Result<(), DbErr> {
        Entity::update_many()
            .col_expr(Column::RowsRead, Expr::value(as_i64(counts.rows_read)))
            .col_expr(Column::OrdersRead, Expr::value(as_i64(counts.orders_read)))
            .col_expr(
                Column::RowsRejected,
                Expr::value(as_i64(counts.rows_rejected)),
            )
            .col_expr(Column::TotalWarnings, Expr::value(as_i64(counts.warnings)))
            .col_expr(Column::UpdatedAt, Expr::value(Utc::now().naive_utc()))
            .filter(Column::Id.eq(id))
            .exec(db)
            .await?;
        Ok(())
    }

    /// The whole file is read and `chunks_total` chunks are queued: final
    /// counts, state `importing`, then [`Self::finalize`] in case every chunk
    /// was written before `chunks_total` was known.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn mark_importing(
        db: &impl ConnectionTrait,
        id: i64,
        counts: FileCounts,
        chunks_total: u64,
        rejects_path: Option<String>,
    ) -> Result<(), DbErr> {
        Self::record_counts(db, id, counts).await?;
        Entity::update_many()
            .col_expr(Column::ChunksTotal, Expr::value(as_i64(chunks_total)))
            .col_expr(Column::RejectsPath, Expr::value(rejects_path))
            .col_expr(Column::State, Expr::value(ImportState::Importing))
            .col_expr(Column::UpdatedAt, Expr::value(Utc::now().naive_utc()))
            .filter(Column::Id.eq(id))
            .filter(Column::State.eq(ImportState::Queued))
            .exec(db)
            .await?;
        Self::finalize(db, id).await?;
        Ok(())
    }

    /// `importing` → `done` once every chunk is written; a guarded update that
    /// both the last chunk job and the task run, whichever comes second wins.
    /// An import `interrupted` after its whole file was read (no `finished_at`)
    /// is finished the same way when its chunks land later.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn finalize(db: &impl ConnectionTrait, id: i64) -> Result<bool, DbErr> {
        let now = Utc::now();
        let result = Entity::update_many()
            .col_expr(Column::State, Expr::value(ImportState::Done))
            .col_expr(Column::Error, Expr::value(Option::<String>::None))
            .col_expr(Column::FinishedAt, Expr::value(now.fixed_offset()))
            .col_expr(Column::UpdatedAt, Expr::value(now.naive_utc()))
            .filter(Column::Id.eq(id))
            .filter(Column::State.is_in([ImportState::Importing, ImportState::Interrupted]))
            .filter(Column::FinishedAt.is_null())
            .filter(Expr::col(Column::ChunksDone).gte(Expr::col(Column::ChunksTotal)))
            .exec(db)
            .await?;
        Ok(result.rows_affected > 0)
    }

    /// Reading the file failed: the import ends `failed` with the reason.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn mark_failed(
        db: &impl ConnectionTrait,
        id: i64,
        counts: FileCounts,
        chunks_total: u64,
        error: &str,
    ) -> Result<(), DbErr> {
        Self::record_counts(db, id, counts).await?;
        let now = Utc::now();
        Entity::update_many()
            .col_expr(Column::ChunksTotal, Expr::value(as_i64(chunks_total)))
            .col_expr(Column::State, Expr::value(ImportState::Failed))
            .col_expr(Column::Error, Expr::value(error))
            .col_expr(Column::FinishedAt, Expr::value(now.fixed_offset()))
            .col_expr(Column::UpdatedAt, Expr::value(now.naive_utc()))
            .filter(Column::Id.eq(id))
            .filter(Column::State.eq(ImportState::Queued))
            .exec(db)
            .await?;
        Ok(())
    }

    /// The task stopped before every chunk was committed: `interrupted`, with
    /// `reason` (why, and what to do). An import still reading its file gets a
    /// `finished_at` (its chunk count is not final, so it can never become
    /// `done`); one whose file was read keeps none and is finished by
    /// [`Self::finalize`] if its chunks are written later. `done` and `failed`
    /// stay as they are. Returns whether the row changed.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn mark_interrupted(
        db: &impl ConnectionTrait,
        id: i64,
        reason: &str,
    ) -> Result<bool, DbErr> {
        let now = Utc::now();
        let mut changed = 0;
        for (from, finished_at) in [
            (ImportState::Queued, Some(now.fixed_offset())),
            (ImportState::Importing, None),
        ] {
            changed += Entity::update_many()
                .col_expr(Column::State, Expr::value(ImportState::Interrupted))
                .col_expr(Column::Error, Expr::value(reason))
                .col_expr(Column::FinishedAt, Expr::value(finished_at))
                .col_expr(Column::UpdatedAt, Expr::value(now.naive_utc()))
                .filter(Column::Id.eq(id))
                .filter(Column::State.eq(from))
                .exec(db)
                .await?
                .rows_affected;
        }
        Ok(changed > 0)
    }

    /// True once the import reached a state it never leaves.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        matches!(self.state, ImportState::Done | ImportState::Failed)
    }
}

/// Counts are `u64` in the parser and `BIGINT` in the table; files never hold 2^63 rows.
fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
