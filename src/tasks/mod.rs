pub mod args;
pub mod orders_recover;
pub mod queues_status;
