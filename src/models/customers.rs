pub use super::_entities::customers::{ActiveModel, Entity, Model};
pub type Customers = Entity;

// Saving needs nothing beyond the columns: sea-orm's default hooks.
impl sea_orm::ActiveModelBehavior for ActiveModel {}
