//! The order states and failure reasons of the workflow. The transitions
//! between them are in [`super::batch`].

pub const PENDING: &str = "pending";
pub const RESERVED: &str = "reserved";
pub const PAID: &str = "paid";
pub const FAILED: &str = "failed";

/// Why an order failed, as stored in `failure_reason`.
pub const OUT_OF_STOCK: &str = "out_of_stock";
pub const PAYMENT_DECLINED: &str = "payment_declined";
