//! Status changes as HOT updates on PostgreSQL.
//!
//! Every order changes status twice in the workflow (and again on refunds),
//! and every notification once. PostgreSQL can write such an update as a
//! heap-only tuple (no new entry in any index) when no indexed column changes
//! and the page has room. `idx_orders_status_updated_at` indexed exactly the
//! two columns every transition changes, so each transition added an entry to
//! all five indexes of `orders`; and tables filled to 100 % leave no room on
//! the page. The index served only the recovery sweep, which runs every few
//! minutes and now scans instead. A fill factor of 70 keeps room for the new
//! versions next to the old ones (SQLite has neither notion; only the index goes).
use sea_orm_migration::prelude::*;

use crate::{on_postgres, set_fillfactor};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Orders {
    Table,
    Status,
    UpdatedAt,
}

const STATUS_INDEX: &str = "idx_orders_status_updated_at";
/// Tables whose rows are updated after they are written.
const UPDATED_IN_PLACE: [&str; 2] = ["orders", "order_notifications"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name(STATUS_INDEX)
                .table(Orders::Table)
                .to_owned(),
        )
        .await?;
        on_postgres(m, set_fillfactor(&UPDATED_IN_PLACE, 70).collect()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(m, set_fillfactor(&UPDATED_IN_PLACE, 100).collect()).await?;
        m.create_index(
            Index::create()
                .name(STATUS_INDEX)
                .table(Orders::Table)
                .col(Orders::Status)
                .col(Orders::UpdatedAt)
                .to_owned(),
        )
        .await
    }
}
