//! Items format: one row per order item; the grouper assembles orders.

use chrono::{DateTime, Utc};
use csv::ByteRecord;

use super::{
    fields::{self, Invalid},
    format::{Layout, ITEMS_COLUMNS},
    parsed::{CustomerRef, ParsedItem, ParsedOrder},
};
use crate::models::money::{self, MoneyError};

const ORDER_ID: usize = 0;
const PLACED_AT: usize = 1;
const CURRENCY: usize = 2;
const CUSTOMER_ID: usize = 3;
const EMAIL: usize = 4;
const NAME: usize = 5;
const SKU: usize = 6;
const PRODUCT_NAME: usize = 7;
const PRICE: usize = 8;
const QTY: usize = 9;

/// A validated items-format row, borrowing its text from the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRow<'r> {
    /// `external_order_id`.
    pub order_id: &'r str,
    /// `order_placed_at`, in UTC.
    pub placed_at: DateTime<Utc>,
    /// Three ASCII letters, as written (compare case-insensitively).
    pub currency: &'r str,
    /// `customer_id`.
    pub customer_id: &'r str,
    /// `customer_email`, if not blank.
    pub email: Option<&'r str>,
    /// `customer_name`, if not blank.
    pub customer_name: Option<&'r str>,
    /// `product_sku`.
    pub sku: &'r str,
    /// `product_name`; a blank name falls back to the SKU.
    pub product_name: &'r str,
    /// `unit_price_cents`.
    pub unit_price_cents: i64,
    /// `qty`.
    pub qty: i64,
}

/// Validates one items-format row (cell count is checked by the caller).
pub fn parse<'r>(record: &'r ByteRecord, layout: &Layout) -> Result<ItemRow<'r>, Invalid> {
    let cell = |column: usize| (layout.position(column), ITEMS_COLUMNS[column]);
    let text = |column: usize| {
        let (at, name) = cell(column);
        fields::text(record, at, name)
    };
    let id = |column: usize| {
        let (at, name) = cell(column);
        fields::id(record, at, name)
    };
    let optional = |value: &'r str| Some(value).filter(|v| !v.is_empty());

    let order_id = id(ORDER_ID)?;
    let placed_at = fields::placed_at(text(PLACED_AT)?, ITEMS_COLUMNS[PLACED_AT])?;
    let (at, name) = cell(CURRENCY);
    let currency = fields::currency(record, at, name)?;
    let customer_id = id(CUSTOMER_ID)?;
    let email = optional(text(EMAIL)?);
    let customer_name = optional(text(NAME)?);
    let sku = id(SKU)?;
    let product_name = optional(text(PRODUCT_NAME)?).unwrap_or(sku);
    let price = text(PRICE)?;
    let unit_price_cents = money::parse_cents(price).map_err(|e| {
        let column = ITEMS_COLUMNS[PRICE];
        match e {
            MoneyError::Empty => Invalid::new(column, format!("{column} is empty")),
            e => Invalid::new(column, format!("{column} `{price}`: {e}")),
        }
    })?;
    let qty = fields::qty(text(QTY)?, ITEMS_COLUMNS[QTY])?;
    unit_price_cents
        .checked_mul(qty)
        .ok_or_else(|| Invalid::new(ITEMS_COLUMNS[QTY], "qty * unit_price_cents is too large"))?;

    Ok(ItemRow {
        order_id,
        placed_at,
        currency,
        customer_id,
        email,
        customer_name,
        sku,
        product_name,
        unit_price_cents,
        qty,
    })
}

impl ItemRow<'_> {
    /// The owned order item of this row.
    #[must_use]
    pub fn item(&self) -> ParsedItem {
        ParsedItem {
            sku: self.sku.to_owned(),
            name: self.product_name.to_owned(),
            unit_price_cents: self.unit_price_cents,
            qty: self.qty,
        }
    }

    /// A new order holding only this row's item.
    #[must_use]
    pub fn start_order(&self, line: u64) -> ParsedOrder {
        ParsedOrder {
            external_id: self.order_id.to_owned(),
            customer: CustomerRef {
                external_id: self.customer_id.to_owned(),
                email: self.email.map(str::to_owned),
                name: self.customer_name.map(str::to_owned),
            },
            currency: self.currency.to_ascii_uppercase(),
            placed_at: Some(self.placed_at),
            items: vec![self.item()],
            declared_total_cents: None,
            first_line: line,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: [&str; 10] = [
        "ORD-1",
        "2025-10-27 16:12:00",
        "eur",
        "CUST-1",
        " jane@example.com ",
        "",
        "SKU-1",
        "",
        "1998",
        "3",
    ];

    fn layout() -> Layout {
        Layout::detect(&ByteRecord::from(ITEMS_COLUMNS.to_vec())).unwrap()
    }

    fn with(column: usize, value: &str) -> Result<ParsedOrder, Invalid> {
        let mut cells = GOOD;
        cells[column] = value;
        let record = ByteRecord::from(cells.to_vec());
        parse(&record, &layout()).map(|row| row.start_order(9))
    }

    #[test]
    fn good_row_becomes_an_order() {
        let order = with(ORDER_ID, "ORD-1").unwrap();
        assert_eq!(order.currency, "EUR");
        assert_eq!(order.customer.email.as_deref(), Some("jane@example.com"));
        assert_eq!(order.customer.name, None);
        assert_eq!(
            order.items[0].name, "SKU-1",
            "blank product name falls back to the sku"
        );
        assert_eq!(order.total_cents(), 5_994);
        assert_eq!(order.first_line, 9);
    }

    #[test]
    fn each_bad_cell_names_its_column() {
        let cases = [
            (ORDER_ID, "", "external_order_id is empty"),
            (
                PLACED_AT,
                "2025-10-27",
                "order_placed_at `2025-10-27` is not a date",
            ),
            (CURRENCY, "", "currency is empty"),
            (CURRENCY, "EURO", "currency `EURO` is not a 3-letter code"),
            (CUSTOMER_ID, " ", "customer_id is empty"),
            (SKU, "", "product_sku is empty"),
            (PRICE, "-5", "unit_price_cents `-5`: amount is negative"),
            (
                PRICE,
                "19.98",
                "unit_price_cents `19.98`: amount must be a whole number of cents",
            ),
            (
                PRICE,
                "abc",
                "unit_price_cents `abc`: amount is not a number",
            ),
            (QTY, "0", "qty must be at least 1"),
            (QTY, "1.5", "qty `1.5` must be a whole number"),
        ];
        for (column, value, reason) in cases {
            let err = with(column, value).unwrap_err();
            assert_eq!(err.column, ITEMS_COLUMNS[column]);
            assert!(err.reason.starts_with(reason), "{value}: {}", err.reason);
        }
    }

    #[test]
    fn line_overflow_is_rejected() {
        let mut cells = GOOD;
        cells[PRICE] = "9223372036854775807";
        let record = ByteRecord::from(cells.to_vec());
        assert_eq!(
            parse(&record, &layout()).unwrap_err().reason,
            "qty * unit_price_cents is too large"
        );
    }
}
