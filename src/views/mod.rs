pub mod metrics;
pub mod imports;
pub mod queues;
