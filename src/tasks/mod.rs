pub mod args;
pub mod orders_recover;
pub mod orders_refund;
pub mod queues_status;
