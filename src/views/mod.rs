pub mod orders;
pub mod queues;
pub mod refunds;
