//! Customers, products and the imports that bring them in.
use loco_rs::schema::*;
use sea_orm_migration::prelude::*;

use crate::one_of;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Customers {
    Table,
    Id,
    ExternalId,
    Email,
    Name,
}

#[derive(DeriveIden)]
pub enum Products {
    Table,
    Id,
    Sku,
    Name,
    PriceCents,
    Stock,
}

#[derive(DeriveIden)]
pub enum Imports {
    Table,
    Id,
    FileName,
    Format,
    State,
    RowsRead,
    OrdersRead,
    ChunksTotal,
    ChunksDone,
    OrdersCreated,
    DuplicatesSkipped,
    RowsRejected,
    TotalWarnings,
    RejectsPath,
    Error,
    FinishedAt,
}

#[derive(DeriveIden)]
pub enum ImportChunks {
    Table,
    Id,
    ImportId,
    Seq,
    OrdersInChunk,
    OrdersCreated,
    DuplicatesSkipped,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            table_auto(Customers::Table)
                .col(big_pk_auto(Customers::Id))
                .col(string_uniq(Customers::ExternalId))
                .col(string_null(Customers::Email))
                .col(string_null(Customers::Name))
                .to_owned(),
        )
        .await?;

        m.create_table(
            table_auto(Products::Table)
                .col(big_pk_auto(Products::Id))
                .col(string_uniq(Products::Sku))
                .col(string(Products::Name))
                .col(big_integer(Products::PriceCents))
                .col(big_integer(Products::Stock))
                .check(Expr::col(Products::PriceCents).gte(0))
                // Stock can never go negative, whatever the number of workers.
                .check(Expr::col(Products::Stock).gte(0))
                .to_owned(),
        )
        .await?;

        m.create_table(
            table_auto(Imports::Table)
                .col(big_pk_auto(Imports::Id))
                .col(text(Imports::FileName))
                .col(string_null(Imports::Format))
                .col(string(Imports::State).default("queued"))
                .col(big_integer(Imports::RowsRead).default(0))
                .col(big_integer(Imports::OrdersRead).default(0))
                .col(big_integer(Imports::ChunksTotal).default(0))
                .col(big_integer(Imports::ChunksDone).default(0))
                .col(big_integer(Imports::OrdersCreated).default(0))
                .col(big_integer(Imports::DuplicatesSkipped).default(0))
                .col(big_integer(Imports::RowsRejected).default(0))
                .col(big_integer(Imports::TotalWarnings).default(0))
                .col(text_null(Imports::RejectsPath))
                .col(text_null(Imports::Error))
                .col(timestamp_with_time_zone_null(Imports::FinishedAt))
                .check(one_of(
                    Imports::State,
                    &["queued", "importing", "done", "failed"],
                ))
                .to_owned(),
        )
        .await?;

        // One row per chunk applied: the guard that makes a chunk job idempotent.
        m.create_table(
            table_auto(ImportChunks::Table)
                .col(big_pk_auto(ImportChunks::Id))
                .col(big_integer(ImportChunks::ImportId))
                .col(big_integer(ImportChunks::Seq))
                .col(big_integer(ImportChunks::OrdersInChunk))
                .col(big_integer(ImportChunks::OrdersCreated))
                .col(big_integer(ImportChunks::DuplicatesSkipped))
                .foreign_key(
                    ForeignKey::create()
                        .from(ImportChunks::Table, ImportChunks::ImportId)
                        .to(Imports::Table, Imports::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_import_chunks_import_seq")
                .table(ImportChunks::Table)
                .col(ImportChunks::ImportId)
                .col(ImportChunks::Seq)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ImportChunks::Table.into_iden(),
            Imports::Table.into_iden(),
            Products::Table.into_iden(),
            Customers::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
