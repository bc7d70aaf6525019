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
//! the word without allocating, for hand-written SQL and the hot paths. Each
//! variant's word is written once, in `status_enums!` below.
//!
//! [`as_str`]: OrderStatus::as_str
use std::fmt;

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Declares a status enum from its variants and their stored words: the
/// sea-orm `ActiveEnum` over a text column, serde, [`as_str`](OrderStatus::as_str)
/// and `Display`, all from the one word per variant.
macro_rules! status_enums {
    ($(
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $word:tt,)+
        }
    )+) => {$(
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
        )]
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
        pub enum $name {
            $(
                $(#[$variant_meta])*
                #[sea_orm(string_value = $word)]
                #[serde(rename = $word)]
                $variant,
            )+
        }

        impl $name {
            /// The stored word.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $word,)+
                }
            }
        }

        /// The stored word, for messages and log fields.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )+};
}

status_enums! {
    /// Where an order is in the workflow (`pending → reserved → paid | failed`),
    /// then in its refunds (`paid → partially_refunded → refunded`).
    pub enum OrderStatus {
        /// Written by the import; its stock is not reserved yet.
        Pending = "pending",
        /// Stock taken; waiting for the payment.
        Reserved = "reserved",
        Paid = "paid",
        /// Out of stock or payment declined (`failure_reason` says which).
        Failed = "failed",
        PartiallyRefunded = "partially_refunded",
        Refunded = "refunded",
    }

    /// Why an order failed, as stored in `orders.failure_reason`.
    pub enum FailureReason {
        OutOfStock = "out_of_stock",
        PaymentDeclined = "payment_declined",
    }

    /// A refund: `pending → processed | failed`.
    pub enum RefundStatus {
        /// Accepted and reserved on the order; the refund job decides it.
        Pending = "pending",
        Processed = "processed",
        /// The gateway declined it (`failure_reason` says why).
        Failed = "failed",
    }

    /// A payment: the fake gateway records captured payments only.
    pub enum PaymentStatus {
        Captured = "captured",
    }

    /// A customer notification: `queued → sent | failed` (and `failed → queued`
    /// when its dead job is retried).
    pub enum NotificationStatus {
        Queued = "queued",
        Sent = "sent",
        Failed = "failed",
    }

    /// An import: `queued → importing → done`, or `failed` / `interrupted`.
    pub enum ImportState {
        /// The file is being read and its chunks queued.
        Queued = "queued",
        /// Every chunk is queued; chunk jobs are still writing.
        Importing = "importing",
        /// Every chunk is written.
        Done = "done",
        /// Reading the file failed; chunks queued before the failure are still written.
        Failed = "failed",
        /// The task stopped before every chunk was committed (a signal, dead chunk
        /// jobs, no live worker, Redis unreachable); `error` says why and what to do.
        /// An import interrupted after the whole file was read still becomes
        /// `done` if its queued chunks are written later.
        Interrupted = "interrupted",
    }
}

impl OrderStatus {
    /// Statuses the workflow has not finished with (it moves them on by itself).
    pub const OPEN: [Self; 2] = [Self::Pending, Self::Reserved];
    /// Statuses a refund can be taken from.
    pub const REFUNDABLE: [Self; 2] = [Self::Paid, Self::PartiallyRefunded];
    /// Statuses of orders whose items were sold (paid, whatever was refunded since).
    pub const SOLD: [Self; 3] = [Self::Paid, Self::PartiallyRefunded, Self::Refunded];
}

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
