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
use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

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

async fn set_fillfactor(m: &SchemaManager<'_>, percent: u8) -> Result<(), DbErr> {
    if m.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    for table in UPDATED_IN_PLACE {
        m.get_connection()
            .execute_unprepared(&format!("ALTER TABLE {table} SET (fillfactor = {percent})"))
            .await?;
    }
    Ok(())
}

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
        set_fillfactor(m, 70).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        set_fillfactor(m, 100).await?;
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
