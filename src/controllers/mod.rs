pub mod auth;
pub mod error;
pub mod imports;
pub mod metrics;
pub mod ops;
pub mod orders;
pub mod queues;
pub mod refunds;
