pub mod args;
pub mod orders_generate;
pub mod orders_import;
pub mod products_import;
pub mod progress;
pub mod queues_status;
