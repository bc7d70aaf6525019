pub mod args;
pub mod kpi;
pub mod orders_recover;
pub mod orders_status;
pub mod queues_status;
