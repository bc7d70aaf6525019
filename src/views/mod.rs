pub mod metrics;
pub mod queues;
