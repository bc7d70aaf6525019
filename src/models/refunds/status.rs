//! The statuses of a refund row, apart so that every part of `refunds` can
//! name them without importing the module that re-exports them.

pub const PENDING: &str = "pending";
pub const PROCESSED: &str = "processed";
pub const FAILED: &str = "failed";
