//! Refunds: the rules shared by the HTTP API and the CLI, and the refund job.
//!
//! - [`RefundInput`] / [`IdempotencyKey`]: what a request says, checked before
//!   anything is written (refused with 400/422, not remembered on the key).
//! - [`request`]: claims the key, reserves the amount on the order with a
//!   conditional update (`refund_reserved_cents + amount <= total_cents`),
//!   writes the `pending` refund and stores the response, then queues the job;
//!   concurrent requests of one process do this together, one transaction and
//!   one Redis call per batch ([`RefundBatcher`]).
//! - [`complete`] and [`decline`]: `pending → processed | failed`, made by the
//!   refund job (`workers/refund.rs`).
//!
//! An order's `refund_reserved_cents` holds refunds pending or processed and
//! `refunded_cents` the processed ones: the remainder a new refund may take is
//! `total − reserved`, so a refund never counts against itself.
mod batch;
mod batcher;
mod call;
mod desk;
mod error;
mod input;
mod process;
mod request;

pub use call::RefundCall;
pub use desk::{BatchStats, Recorded, RefundBatcher, RefundDesk};
pub use error::RefundError;
pub use input::{parse_amount_cents, IdempotencyKey, RefundInput, MAX_REASON_CHARS};
pub use process::{complete, decline, event, Move};
pub use request::request;

pub use super::_entities::refunds::{ActiveModel, Column, Entity, Model};
pub type Refunds = Entity;

/// The scope of keys given on the command line (API keys are scoped to their token).
pub const CLI_SCOPE: &str = "cli";

impl sea_orm::ActiveModelBehavior for ActiveModel {}
