pub use super::_entities::payments::{ActiveModel, Entity, Model};
pub type Payments = Entity;

// Saving needs nothing beyond the columns: sea-orm's default hooks.
impl sea_orm::ActiveModelBehavior for ActiveModel {}
