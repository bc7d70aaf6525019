//! The normalized order model both file formats are parsed into.
//!
//! Serde-ready so a chunk can travel as an import-chunk job payload; money
//! is integer cents, dates RFC 3339.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One order ready to be written, whatever format it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedOrder {
    /// The shop's order id (`order_id` / `external_order_id`).
    pub external_id: String,
    /// Who placed it.
    pub customer: CustomerRef,
    /// ISO 4217 code, uppercase; the orders format uses the configured default.
    pub currency: String,
    /// Earliest `order_placed_at` of its rows; `None` in the orders format.
    pub placed_at: Option<DateTime<Utc>>,
    /// At least one item; every qty >= 1 and the sum fits in `i64` cents.
    pub items: Vec<ParsedItem>,
    /// The `total` column of the orders format, when present (items win).
    pub declared_total_cents: Option<i64>,
    /// 1-based file line of the order's first row.
    pub first_line: u64,
}

impl ParsedOrder {
    /// Sum of `qty * unit_price_cents`, or `None` on overflow.
    #[must_use]
    pub fn checked_total_cents(&self) -> Option<i64> {
        self.items.iter().try_fold(0i64, |sum, item| {
            sum.checked_add(item.checked_line_cents()?)
        })
    }

    /// Sum of `qty * unit_price_cents`; the parser never emits an order whose
    /// sum overflows, so saturation is unreachable for parsed orders.
    #[must_use]
    pub fn total_cents(&self) -> i64 {
        self.checked_total_cents().unwrap_or(i64::MAX)
    }
}

/// The customer as named by the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRef {
    /// The shop's customer id.
    pub external_id: String,
    /// E-mail, when the format carries one and it is not blank.
    pub email: Option<String>,
    /// Display name, when the format carries one and it is not blank.
    pub name: Option<String>,
}

/// One order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedItem {
    /// Product key: `product_sku`, or a slug of the product name (orders format).
    pub sku: String,
    /// Product display name.
    pub name: String,
    /// Price of one unit, in cents (>= 0).
    pub unit_price_cents: i64,
    /// Units ordered (>= 1).
    pub qty: i64,
}

impl ParsedItem {
    /// `qty * unit_price_cents`, or `None` on overflow.
    #[must_use]
    pub fn checked_line_cents(&self) -> Option<i64> {
        self.qty.checked_mul(self.unit_price_cents)
    }
}

/// A row that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reject {
    /// 1-based physical line where the row starts (the header is line 1).
    pub line: u64,
    /// The offending column (`items[0].price` for JSON items), or `row`.
    pub column: String,
    /// Human-readable reason.
    pub reason: String,
    /// The row as CSV text, for the rejects file.
    pub raw: String,
}

/// Something worth telling the operator that does not stop a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Warning {
    /// The declared `total` differs from the sum of the items; the items win.
    TotalMismatch {
        /// Line of the order's row.
        line: u64,
        /// The order id.
        external_id: String,
        /// The `total` column.
        declared_cents: i64,
        /// Sum of the items.
        computed_cents: i64,
    },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::models::money::DisplayCents;
        match self {
            Self::TotalMismatch {
                line,
                external_id,
                declared_cents,
                computed_cents,
            } => write!(
                f,
                "line {line}: order {external_id} declares total {} but its items sum to {} (items win)",
                DisplayCents(*declared_cents),
                DisplayCents(*computed_cents)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(unit_price_cents: i64, qty: i64) -> ParsedItem {
        ParsedItem {
            sku: "s".into(),
            name: "n".into(),
            unit_price_cents,
            qty,
        }
    }

    fn order(items: Vec<ParsedItem>) -> ParsedOrder {
        ParsedOrder {
            external_id: "O".into(),
            customer: CustomerRef {
                external_id: "C".into(),
                email: None,
                name: None,
            },
            currency: "EUR".into(),
            placed_at: None,
            items,
            declared_total_cents: None,
            first_line: 2,
        }
    }

    #[test]
    fn totals_are_integer_sums() {
        let o = order(vec![item(1_999, 2), item(109_900, 1)]);
        assert_eq!(o.total_cents(), 113_898);
        assert_eq!(o.checked_total_cents(), Some(113_898));
    }

    #[test]
    fn overflow_is_detected() {
        let o = order(vec![item(i64::MAX, 1), item(1, 1)]);
        assert_eq!(o.checked_total_cents(), None);
        assert_eq!(
            order(vec![item(i64::MAX / 2 + 1, 2)]).checked_total_cents(),
            None
        );
    }

    #[test]
    fn orders_round_trip_through_json_with_integer_cents() {
        let o = order(vec![item(1_999, 2)]);
        let json = serde_json::to_string(&o).unwrap();
        assert!(json.contains(r#""unit_price_cents":1999"#), "{json}");
        assert_eq!(serde_json::from_str::<ParsedOrder>(&json).unwrap(), o);
    }

    #[test]
    fn warning_reads_well() {
        let w = Warning::TotalMismatch {
            line: 3,
            external_id: "ORD-1".into(),
            declared_cents: 19_999,
            computed_cents: 19_998,
        };
        assert_eq!(
            w.to_string(),
            "line 3: order ORD-1 declares total 199.99 but its items sum to 199.98 (items win)"
        );
    }
}
