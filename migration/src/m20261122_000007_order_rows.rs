//! Cheaper order rows on PostgreSQL: no foreign-key triggers on `orders`, and
//! more room on each page for the versions the workflow writes.
//!
//! - `orders → customers` and `orders → imports` cost two trigger queries per
//!   imported order (`SELECT 1 … FOR KEY SHARE`, each locking the parent row).
//!   The import writes an order only with the customer id it has just upserted
//!   and the import row it is running for, in the same transaction, and
//!   nothing deletes customers or imports (migration 6 has the same reasoning
//!   for items, KPI events and notifications).
//! - Every order is updated twice by the workflow and every notification once;
//!   `pg_stat_user_tables` showed only 55 % and 50 % of those updates HOT at a
//!   fill factor of 70: a page had no room left for the new version and the
//!   update wrote a new entry in every index. A fill factor of 50 leaves room.
//!
//! SQLite has neither notion and keeps its foreign keys.
use sea_orm_migration::prelude::*;

use crate::{on_postgres, set_fillfactor};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (constraint, definition as created by migration 2), all on `orders`.
const DROPPED: [(&str, &str); 2] = [
    (
        "orders_customer_id_fkey",
        "FOREIGN KEY (customer_id) REFERENCES customers(id)",
    ),
    (
        "orders_import_id_fkey",
        "FOREIGN KEY (import_id) REFERENCES imports(id)",
    ),
];

/// Tables updated in place, and their fill factor before this migration.
const ROOMIER: [&str; 2] = ["orders", "order_notifications"];
const FILLFACTOR_BEFORE: u8 = 70;
const FILLFACTOR: u8 = 50;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let drops = DROPPED
            .iter()
            .map(|(name, _)| format!("ALTER TABLE orders DROP CONSTRAINT IF EXISTS {name}"));
        on_postgres(
            m,
            drops.chain(set_fillfactor(&ROOMIER, FILLFACTOR)).collect(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let adds = DROPPED.iter().map(|(name, definition)| {
            format!("ALTER TABLE orders ADD CONSTRAINT {name} {definition}")
        });
        on_postgres(
            m,
            adds.chain(set_fillfactor(&ROOMIER, FILLFACTOR_BEFORE))
                .collect(),
        )
        .await
    }
}
