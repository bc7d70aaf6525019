//! Products: created by imports with the initial stock, or set by `products_import`.
pub use super::_entities::products::{ActiveModel, Column, Entity, Model};
use sea_orm::{
    entity::prelude::*,
    sea_query::{Expr, OnConflict, Query},
    QuerySelect, TransactionTrait,
};

use super::{import::products_file::ProductRow, import_writer::MAX_PARAMS};
pub type Products = Entity;

#[async_trait::async_trait]
impl ActiveModelBehavior for ActiveModel {}

/// What an upsert did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertCounts {
    pub created: u64,
    pub updated: u64,
}

impl Model {
    /// The product with this SKU, if any.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn find_by_sku(db: &impl ConnectionTrait, sku: &str) -> Result<Option<Self>, DbErr> {
        Entity::find().filter(Column::Sku.eq(sku)).one(db).await
    }

    /// Creates or overwrites products: name, price and stock are set exactly
    /// as given (this is how an operator corrects stock), in one transaction.
    ///
    /// # Errors
    /// When the database fails; nothing of the batch is written then.
    pub async fn upsert_all(
        db: &DatabaseConnection,
        rows: &[ProductRow],
    ) -> Result<UpsertCounts, DbErr> {
        // Ascending SKUs: concurrent writers lock rows in one order, and a
        // repeated SKU (beyond the parser's memory) keeps its last row.
        let mut sorted: Vec<&ProductRow> = rows.iter().collect();
        sorted.sort_by(|a, b| a.sku.cmp(&b.sku).then(b.line.cmp(&a.line)));
        sorted.dedup_by(|later, first| later.sku == first.sku);
        let txn = db.begin().await?;
        let mut counts = UpsertCounts::default();
        let now = chrono::Utc::now().naive_utc();
        for batch in sorted.chunks(MAX_PARAMS / 5) {
            let skus = batch.iter().map(|r| r.sku.as_str());
            let existing: Vec<i64> = Entity::find()
                .select_only()
                .column(Column::Id)
                .filter(Column::Sku.is_in(skus))
                .into_tuple()
                .all(&txn)
                .await?;
            let mut insert = Query::insert();
            insert.into_table(Entity).columns([
                Column::Sku,
                Column::Name,
                Column::PriceCents,
                Column::Stock,
                Column::UpdatedAt,
            ]);
            for row in batch {
                insert
                    .values([
                        Expr::val(row.sku.as_str()),
                        Expr::val(row.name.as_str()),
                        Expr::val(row.price_cents),
                        Expr::val(row.stock),
                        Expr::val(now),
                    ])
                    .map_err(|e| DbErr::Custom(format!("building SQL: {e}")))?;
            }
            insert.on_conflict(
                OnConflict::column(Column::Sku)
                    .update_columns([
                        Column::Name,
                        Column::PriceCents,
                        Column::Stock,
                        Column::UpdatedAt,
                    ])
                    .to_owned(),
            );
            txn.execute(&insert).await?;
            counts.updated += existing.len() as u64;
            counts.created += (batch.len() - existing.len()) as u64;
        }
        txn.commit().await?;
        Ok(counts)
    }
}
