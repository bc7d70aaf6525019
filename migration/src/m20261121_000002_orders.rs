//! Orders, their items, payments and customer notifications.
use loco_rs::schema::*;
use sea_orm_migration::prelude::*;

use crate::{
    m20261121_000001_catalog::{Customers, Imports, Products},
    one_of,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Orders {
    Table,
    Id,
    ExternalId,
    CustomerId,
    ImportId,
    Status,
    Currency,
    TotalCents,
    RefundReservedCents,
    RefundedCents,
    PlacedAt,
    PaidAt,
    FinishedAt,
    FailureReason,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrderItems {
    Table,
    Id,
    OrderId,
    ProductId,
    LineNo,
    Qty,
    UnitPriceCents,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
    OrderId,
    AmountCents,
    Currency,
    Provider,
    ProviderRef,
    Status,
}

#[derive(DeriveIden)]
enum OrderNotifications {
    Table,
    Id,
    OrderId,
    Event,
    Channel,
    Status,
    Payload,
    Attempts,
    Error,
    SentAt,
}

pub const ORDER_STATUSES: &[&str] = &[
    "pending",
    "reserved",
    "paid",
    "failed",
    "partially_refunded",
    "refunded",
];

fn fk(
    from: (Orders, Orders),
    to_table: impl IntoIden,
    to_col: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to_table, to_col)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            table_auto(Orders::Table)
                .col(big_pk_auto(Orders::Id))
                .col(string_uniq(Orders::ExternalId))
                .col(big_integer(Orders::CustomerId))
                .col(big_integer_null(Orders::ImportId))
                .col(string(Orders::Status).default("pending"))
                .col(string_len(Orders::Currency, 3))
                .col(big_integer(Orders::TotalCents))
                // Refunds pending or processed: reserved at request time so that
                // concurrent refunds can never exceed the total.
                .col(big_integer(Orders::RefundReservedCents).default(0))
                .col(big_integer(Orders::RefundedCents).default(0))
                .col(timestamp_with_time_zone_null(Orders::PlacedAt))
                .col(timestamp_with_time_zone_null(Orders::PaidAt))
                .col(timestamp_with_time_zone_null(Orders::FinishedAt))
                .col(string_null(Orders::FailureReason))
                .check(one_of(Orders::Status, ORDER_STATUSES))
                .check(Expr::col(Orders::TotalCents).gte(0))
                .check(
                    Expr::col(Orders::RefundReservedCents).gte(0).and(
                        Expr::col(Orders::RefundReservedCents).lte(Expr::col(Orders::TotalCents)),
                    ),
                )
                .check(Expr::col(Orders::RefundedCents).gte(0).and(
                    Expr::col(Orders::RefundedCents).lte(Expr::col(Orders::RefundReservedCents)),
                ))
                .foreign_key(&mut fk(
                    (Orders::Table, Orders::CustomerId),
                    Customers::Table,
                    Customers::Id,
                ))
                .foreign_key(&mut fk(
                    (Orders::Table, Orders::ImportId),
                    Imports::Table,
                    Imports::Id,
                ))
                .to_owned(),
        )
        .await?;
        // The recovery sweep looks for non-terminal orders that stopped moving.
        m.create_index(
            Index::create()
                .name("idx_orders_status_updated_at")
                .table(Orders::Table)
                .col(Orders::Status)
                .col(Orders::UpdatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_orders_import_id")
                .table(Orders::Table)
                .col(Orders::ImportId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_orders_customer_id")
                .table(Orders::Table)
                .col(Orders::CustomerId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            table_auto(OrderItems::Table)
                .col(big_pk_auto(OrderItems::Id))
                .col(big_integer(OrderItems::OrderId))
                .col(big_integer(OrderItems::ProductId))
                .col(integer(OrderItems::LineNo))
                .col(big_integer(OrderItems::Qty))
                .col(big_integer(OrderItems::UnitPriceCents))
                .check(Expr::col(OrderItems::Qty).gte(1))
                .check(Expr::col(OrderItems::UnitPriceCents).gte(0))
                .foreign_key(
                    ForeignKey::create()
                        .from(OrderItems::Table, OrderItems::OrderId)
                        .to(Orders::Table, Orders::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(OrderItems::Table, OrderItems::ProductId)
                        .to(Products::Table, Products::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_order_items_order_line")
                .table(OrderItems::Table)
                .col(OrderItems::OrderId)
                .col(OrderItems::LineNo)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            table_auto(Payments::Table)
                .col(big_pk_auto(Payments::Id))
                // One payment per order: a second charge cannot be recorded.
                .col(big_integer_uniq(Payments::OrderId))
                .col(big_integer(Payments::AmountCents))
                .col(string_len(Payments::Currency, 3))
                .col(string(Payments::Provider))
                .col(string(Payments::ProviderRef))
                .col(string(Payments::Status))
                .check(Expr::col(Payments::AmountCents).gte(0))
                .foreign_key(
                    ForeignKey::create()
                        .from(Payments::Table, Payments::OrderId)
                        .to(Orders::Table, Orders::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            table_auto(OrderNotifications::Table)
                .col(big_pk_auto(OrderNotifications::Id))
                .col(big_integer(OrderNotifications::OrderId))
                .col(string(OrderNotifications::Event))
                .col(string(OrderNotifications::Channel))
                .col(string(OrderNotifications::Status).default("queued"))
                .col(text(OrderNotifications::Payload))
                .col(integer(OrderNotifications::Attempts).default(0))
                .col(text_null(OrderNotifications::Error))
                .col(timestamp_with_time_zone_null(OrderNotifications::SentAt))
                .check(one_of(
                    OrderNotifications::Status,
                    &["queued", "sent", "failed"],
                ))
                .check(one_of(OrderNotifications::Channel, &["log", "email"]))
                .foreign_key(
                    ForeignKey::create()
                        .from(OrderNotifications::Table, OrderNotifications::OrderId)
                        .to(Orders::Table, Orders::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // At most one notification per (order, event).
        m.create_index(
            Index::create()
                .name("idx_order_notifications_order_event")
                .table(OrderNotifications::Table)
                .col(OrderNotifications::OrderId)
                .col(OrderNotifications::Event)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OrderNotifications::Table.into_iden(),
            Payments::Table.into_iden(),
            OrderItems::Table.into_iden(),
            Orders::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
