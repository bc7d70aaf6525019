pub mod imports;
pub mod metrics;
pub mod orders;
pub mod prometheus;
pub mod queues;
pub mod refunds;
