//! No foreign-key triggers on the rows written for every order (PostgreSQL).
//!
//! A foreign key costs PostgreSQL one trigger per inserted row: an SPI query
//! `SELECT 1 … FOR KEY SHARE` that also locks the parent row (a WAL record
//! each time). An order writes about ten such rows (its items, its KPI event,
//! its notification), and `perf` put `AfterTriggerEndQuery` at 21 % of
//! PostgreSQL's CPU in a 300,000-order run. The item rows also share-locked
//! products the workflow was updating at the same moment.
//!
//! These rows are only written by code that has just read or written their
//! parent in the same transaction (the import writes an order and then its
//! items; the workflow moves an order and records its event and notification
//! under the same guarded update), and nothing deletes orders, customers or
//! products, so the triggers only re-checked what was already true.
//! `orders → customers/imports`, `payments`, `refunds` keep theirs: one or
//! fewer per order. SQLite keeps all of them: its checks are plain index
//! lookups without locks, and dropping one there means rebuilding the table.
use sea_orm_migration::prelude::*;

use crate::on_postgres;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, constraint, definition as created by the earlier migrations).
const DROPPED: [(&str, &str, &str); 5] = [
    (
        "order_items",
        "order_items_order_id_fkey",
        "FOREIGN KEY (order_id) REFERENCES orders(id) ON DELETE CASCADE",
    ),
    (
        "order_items",
        "order_items_product_id_fkey",
        "FOREIGN KEY (product_id) REFERENCES products(id)",
    ),
    (
        "kpi_events",
        "kpi_events_order_id_fkey",
        "FOREIGN KEY (order_id) REFERENCES orders(id) ON DELETE CASCADE",
    ),
    (
        "kpi_events",
        "kpi_events_customer_id_fkey",
        "FOREIGN KEY (customer_id) REFERENCES customers(id)",
    ),
    (
        "order_notifications",
        "order_notifications_order_id_fkey",
        "FOREIGN KEY (order_id) REFERENCES orders(id) ON DELETE CASCADE",
    ),
];

/// `sql(table, constraint, definition)` for each constraint of [`DROPPED`].
fn each_dropped(sql: impl Fn(&str, &str, &str) -> String) -> Vec<String> {
    DROPPED
        .into_iter()
        .map(|(table, name, definition)| sql(table, name, definition))
        .collect()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(
            m,
            each_dropped(|table, name, _| {
                format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")
            }),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(
            m,
            each_dropped(|table, name, definition| {
                format!("ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
            }),
        )
        .await
    }
}
