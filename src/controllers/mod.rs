pub mod auth;
pub mod error;
pub mod metrics;
pub mod imports;
pub mod ops;
pub mod queues;
