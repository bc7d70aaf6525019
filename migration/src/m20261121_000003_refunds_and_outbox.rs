//! Refunds, the idempotency keys that guard them, and the KPI outbox.
use loco_rs::schema::*;
use sea_orm_migration::prelude::*;

use crate::{m20261121_000001_catalog::Customers, m20261121_000002_orders::Orders, one_of};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Refunds {
    Table,
    Id,
    OrderId,
    IdempotencyScope,
    IdempotencyKey,
    AmountCents,
    Status,
    Reason,
    FailureReason,
    ProcessedAt,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Id,
    Scope,
    Key,
    RequestHash,
    OrderId,
    RefundId,
    ResponseStatus,
    ResponseBody,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum KpiEvents {
    Table,
    Id,
    EventKey,
    Kind,
    OrderId,
    RefundId,
    CustomerId,
    Day,
    RevenueDeltaCents,
    AppliedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            table_auto(Refunds::Table)
                .col(big_pk_auto(Refunds::Id))
                .col(big_integer(Refunds::OrderId))
                // Keys are scoped to the caller (an API token fingerprint, or `cli`).
                .col(string(Refunds::IdempotencyScope))
                .col(string(Refunds::IdempotencyKey))
                .col(big_integer(Refunds::AmountCents))
                .col(string(Refunds::Status).default("pending"))
                .col(text_null(Refunds::Reason))
                .col(string_null(Refunds::FailureReason))
                .col(timestamp_with_time_zone_null(Refunds::ProcessedAt))
                .check(Expr::col(Refunds::AmountCents).gt(0))
                .check(one_of(Refunds::Status, &["pending", "processed", "failed"]))
                .foreign_key(
                    ForeignKey::create()
                        .from(Refunds::Table, Refunds::OrderId)
                        .to(Orders::Table, Orders::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_refunds_scope_key")
                .table(Refunds::Table)
                .col(Refunds::IdempotencyScope)
                .col(Refunds::IdempotencyKey)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_refunds_order_id")
                .table(Refunds::Table)
                .col(Refunds::OrderId)
                .to_owned(),
        )
        .await?;

        // Claimed before the work starts: a row without a response is a request in flight.
        m.create_table(
            table_auto(IdempotencyKeys::Table)
                .col(big_pk_auto(IdempotencyKeys::Id))
                .col(string(IdempotencyKeys::Scope))
                .col(string(IdempotencyKeys::Key))
                .col(string(IdempotencyKeys::RequestHash))
                .col(big_integer_null(IdempotencyKeys::OrderId))
                .col(big_integer_null(IdempotencyKeys::RefundId))
                .col(integer_null(IdempotencyKeys::ResponseStatus))
                .col(text_null(IdempotencyKeys::ResponseBody))
                .col(timestamp_with_time_zone(IdempotencyKeys::ExpiresAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_idempotency_keys_scope_key")
                .table(IdempotencyKeys::Table)
                .col(IdempotencyKeys::Scope)
                .col(IdempotencyKeys::Key)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_idempotency_keys_expires_at")
                .table(IdempotencyKeys::Table)
                .col(IdempotencyKeys::ExpiresAt)
                .to_owned(),
        )
        .await?;

        // The outbox: every KPI event is committed with the transition that causes it,
        // then applied to Redis exactly once.
        m.create_table(
            table_auto(KpiEvents::Table)
                .col(big_pk_auto(KpiEvents::Id))
                .col(string_uniq(KpiEvents::EventKey))
                .col(string(KpiEvents::Kind))
                .col(big_integer(KpiEvents::OrderId))
                .col(big_integer_null(KpiEvents::RefundId))
                .col(big_integer(KpiEvents::CustomerId))
                .col(string_len(KpiEvents::Day, 10))
                .col(big_integer(KpiEvents::RevenueDeltaCents))
                .col(timestamp_with_time_zone_null(KpiEvents::AppliedAt))
                .check(one_of(
                    KpiEvents::Kind,
                    &["order_paid", "order_failed", "refund_processed"],
                ))
                .foreign_key(
                    ForeignKey::create()
                        .from(KpiEvents::Table, KpiEvents::OrderId)
                        .to(Orders::Table, Orders::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(KpiEvents::Table, KpiEvents::CustomerId)
                        .to(Customers::Table, Customers::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_kpi_events_applied_at")
                .table(KpiEvents::Table)
                .col(KpiEvents::AppliedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            KpiEvents::Table.into_iden(),
            IdempotencyKeys::Table.into_iden(),
            Refunds::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
