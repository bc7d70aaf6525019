pub mod _entities;
pub mod import;
