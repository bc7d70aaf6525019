pub mod args;
pub mod kpi;
pub mod orders_recover;
pub mod queues_status;
