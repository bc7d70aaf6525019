//! `import_chunks`: one row per chunk committed, the claim that makes a chunk
//! job idempotent, and the import task's record of what is durably written.
pub use super::_entities::import_chunks::{ActiveModel, Column, Entity, Model};
use sea_orm::{entity::prelude::*, QuerySelect};
pub type ImportChunks = Entity;

#[async_trait::async_trait]
impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// Sequence numbers of the chunks of `import_id` committed so far, from
    /// `from_seq` on (the task asks only about the chunks it still tracks).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn committed_seqs(
        db: &impl ConnectionTrait,
        import_id: i64,
        from_seq: i64,
    ) -> Result<Vec<i64>, DbErr> {
        Entity::find()
            .select_only()
            .column(Column::Seq)
            .filter(Column::ImportId.eq(import_id))
            .filter(Column::Seq.gte(from_seq))
            .into_tuple()
            .all(db)
            .await
    }
}
