//! The states of the models as types, one enum per column: `orders.status`
//! ([`OrderStatus`]) and `orders.failure_reason` ([`FailureReason`]),
//! `refunds.status` ([`RefundStatus`]), `payments.status` ([`PaymentStatus`]),
//! `order_notifications.status` ([`NotificationStatus`]) and `imports.state`
//! ([`ImportState`]).
//!
//! Each is a sea-orm `ActiveEnum` stored as its word in the text column it had
//! as a string constant (the CHECK constraints in `migration/` list the same
//! words), and serialized as that word: the database, the API and the
//! notification payloads see exactly the text they saw before. [`as_str`] gives
//! the word without allocating, for hand-written SQL and the hot paths.
//!
//! [`as_str`]: OrderStatus::as_str
use std::fmt;

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Where an order is in the workflow (`pending → reserved → paid | failed`),
/// then in its refunds (`paid → partially_refunded → refunded`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Written by the import; its stock is not reserved yet.
    Pending,
    /// Stock taken; waiting for the payment.
    Reserved,
    Paid,
    /// Out of stock or payment declined (`failure_reason` says which).
    Failed,
    PartiallyRefunded,
    Refunded,
}

impl OrderStatus {
    /// Statuses the workflow has not finished with (it moves them on by itself).
    pub const OPEN: [Self; 2] = [Self::Pending, Self::Reserved];
    /// Statuses a refund can be taken from.
    pub const REFUNDABLE: [Self; 2] = [Self::Paid, Self::PartiallyRefunded];
    /// Statuses of orders whose items were sold (paid, whatever was refunded since).
    pub const SOLD: [Self; 3] = [Self::Paid, Self::PartiallyRefunded, Self::Refunded];

    /// The stored word.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Reserved => "reserved",
            Self::Paid => "paid",
            Self::Failed => "failed",
            Self::PartiallyRefunded => "partially_refunded",
            Self::Refunded => "refunded",
        }
    }
}

/// Why an order failed, as stored in `orders.failure_reason`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    OutOfStock,
    PaymentDeclined,
}

impl FailureReason {
    /// The stored word.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OutOfStock => "out_of_stock",
            Self::PaymentDeclined => "payment_declined",
        }
    }
}

/// A refund: `pending → processed | failed`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Accepted and reserved on the order; the refund job decides it.
    Pending,
    Processed,
    /// The gateway declined it (`failure_reason` says why).
    Failed,
}

impl RefundStatus {
    /// The stored word.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processed => "processed",
            Self::Failed => "failed",
        }
    }
}

/// A payment: the fake gateway records captured payments only.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Captured,
}

impl PaymentStatus {
    /// The stored word.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Captured => "captured",
        }
    }
}

/// A customer notification: `queued → sent | failed` (and `failed → queued`
/// when its dead job is retried).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum NotificationStatus {
    Queued,
    Sent,
    Failed,
}

impl NotificationStatus {
    /// The stored word.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }
}

/// An import: `queued → importing → done`, or `failed` / `interrupted`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum ImportState {
    /// The file is being read and its chunks queued.
    Queued,
    /// Every chunk is queued; chunk jobs are still writing.
    Importing,
    /// Every chunk is written.
    Done,
    /// Reading the file failed; chunks queued before the failure are still written.
    Failed,
    /// The task stopped before every chunk was committed (a signal, dead chunk
    /// jobs, no live worker, Redis unreachable); `error` says why and what to do.
    /// An import interrupted after the whole file was read still becomes
    /// `done` if its queued chunks are written later.
    Interrupted,
}

impl ImportState {
    /// The stored word.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Importing => "importing",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
        }
    }
}

/// `Display` is the stored word, for messages and log fields.
macro_rules! display_as_str {
    ($($name:ty),+) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )+};
}

display_as_str!(
    OrderStatus,
    FailureReason,
    RefundStatus,
    PaymentStatus,
    NotificationStatus,
    ImportState
);

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveEnum, Iterable};

    use super::*;

    /// `as_str`, the column's value and the JSON are one word for every variant.
    fn one_word<E>()
    where
        E: ActiveEnum<Value = String> + Iterable + Serialize + fmt::Display + Copy,
    {
        for variant in E::iter() {
            let word = variant.to_string();
            assert_eq!(variant.to_value(), word);
            assert_eq!(
                serde_json::to_value(variant).ok(),
                Some(word.clone().into())
            );
            assert!(E::try_from_value(&word).is_ok(), "{word}");
        }
    }

    #[test]
    fn every_variant_is_one_word_everywhere() {
        one_word::<OrderStatus>();
        one_word::<FailureReason>();
        one_word::<RefundStatus>();
        one_word::<PaymentStatus>();
        one_word::<NotificationStatus>();
        one_word::<ImportState>();
    }

    #[test]
    fn words_are_the_stored_ones() {
        let words: Vec<_> = OrderStatus::iter().map(OrderStatus::as_str).collect();
        assert_eq!(
            words,
            [
                "pending",
                "reserved",
                "paid",
                "failed",
                "partially_refunded",
                "refunded"
            ]
        );
        assert_eq!(FailureReason::OutOfStock.as_str(), "out_of_stock");
        assert_eq!(FailureReason::PaymentDeclined.as_str(), "payment_declined");
    }
}
