#![allow(elided_lifetimes_in_paths)]
#![allow(clippy::wildcard_imports)]
pub use sea_orm_migration::prelude::*;

mod m20261121_000001_catalog;
mod m20261121_000002_orders;
mod m20261121_000003_refunds_and_outbox;
mod m20261122_000004_unapplied_events_index;
mod m20261122_000005_hot_status_updates;
mod m20261122_000006_outbox_foreign_keys;
mod m20261122_000007_order_rows;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_catalog::Migration),
            Box::new(m20261121_000002_orders::Migration),
            Box::new(m20261121_000003_refunds_and_outbox::Migration),
            Box::new(m20261122_000004_unapplied_events_index::Migration),
            Box::new(m20261122_000005_hot_status_updates::Migration),
            Box::new(m20261122_000006_outbox_foreign_keys::Migration),
            Box::new(m20261122_000007_order_rows::Migration),
            // inject-above (do not remove this comment)
        ]
    }
}

/// `col IN ('a', 'b', …)`: a CHECK that keeps a status column inside its state machine.
pub(crate) fn one_of(col: impl IntoIden, values: &[&str]) -> SimpleExpr {
    Expr::col(col.into_iden()).is_in(values.iter().copied())
}
