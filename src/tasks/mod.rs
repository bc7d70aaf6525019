pub mod args;
pub mod queues_status;
