pub use super::_entities::order_items::{ActiveModel, Entity, Model};
pub type OrderItems = Entity;

// Saving needs nothing beyond the columns: sea-orm's default hooks.
impl sea_orm::ActiveModelBehavior for ActiveModel {}
