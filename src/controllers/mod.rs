pub mod auth;
pub mod error;
pub mod ops;
pub mod queues;
