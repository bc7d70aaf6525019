//! No `orders(customer_id)` index on PostgreSQL.
//!
//! Migration 2 created it for the foreign key to `customers` (without it,
//! deleting a customer scans `orders`). Migration 7 dropped that key on
//! PostgreSQL, and no query looks orders up by customer: the KPI boards read
//! `kpi_events`, which carry the customer. The index only cost every
//! imported order one more b-tree insert (`pg_stat_statements`: the orders
//! insert was PostgreSQL's most expensive statement of a benchmark run).
//!
//! SQLite keeps its foreign key, and the index with it.
use sea_orm_migration::prelude::*;

use crate::on_postgres;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(
            m,
            vec!["DROP INDEX IF EXISTS idx_orders_customer_id".into()],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(
            m,
            vec![
                "CREATE INDEX IF NOT EXISTS idx_orders_customer_id ON orders (customer_id)".into(),
            ],
        )
        .await
    }
}
