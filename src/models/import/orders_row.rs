//! Orders format: `order_id,customer_id,total,items`, one row per order.
//!
//! `items` is a JSON array of `{"product": "Laptop", "qty": 1, "price": 999.99}`.
//! Prices are read from the JSON number's text (serde_json `RawValue`), never
//! through f64; a JSON string such as `"999.99"` is accepted too.

use std::{borrow::Cow, fmt};

use csv::ByteRecord;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{
    fields::{self, Invalid},
    format::{Layout, ORDERS_COLUMNS},
    parsed::{CustomerRef, ParsedItem, ParsedOrder, Warning},
};
use crate::models::money::{self, MoneyError};

const ORDER_ID: usize = 0;
const CUSTOMER_ID: usize = 1;
const TOTAL: usize = 2;
const ITEMS: usize = 3;

/// One element of the `items` array, borrowed from the cell.
#[derive(Deserialize)]
struct JsonItem<'a> {
    #[serde(borrow)]
    product: Option<Cow<'a, str>>,
    #[serde(borrow)]
    qty: Option<&'a RawValue>,
    #[serde(borrow)]
    price: Option<&'a RawValue>,
}

/// Parses one orders-format row; a disagreeing `total` yields a warning.
pub fn parse(
    record: &ByteRecord,
    layout: &Layout,
    line: u64,
    currency: &str,
    max_name_chars: usize,
) -> Result<(ParsedOrder, Option<Warning>), Invalid> {
    let cell = |column: usize| (layout.position(column), ORDERS_COLUMNS[column]);
    let (at, name) = cell(ORDER_ID);
    let external_id = fields::id(record, at, name)?;
    let (at, name) = cell(CUSTOMER_ID);
    let customer_id = fields::id(record, at, name)?;
    let (at, name) = cell(TOTAL);
    let total = fields::text(record, at, name)?;
    let declared_total_cents = if total.is_empty() {
        None
    } else {
        Some(money::parse_decimal_cents(total).map_err(|e| money_invalid(name, total, e))?)
    };
    let (at, name) = cell(ITEMS);
    let items = parse_items(fields::text(record, at, name)?, max_name_chars)?;

    let order = ParsedOrder {
        external_id: external_id.to_owned(),
        customer: CustomerRef {
            external_id: customer_id.to_owned(),
            email: None,
            name: None,
        },
        currency: currency.to_owned(),
        placed_at: None,
        items,
        declared_total_cents,
        first_line: line,
    };
    let computed_cents = order
        .checked_total_cents()
        .ok_or_else(|| Invalid::new("items", "order total is too large"))?;
    let warning = declared_total_cents
        .filter(|&declared| declared != computed_cents)
        .map(|declared_cents| Warning::TotalMismatch {
            line,
            external_id: order.external_id.clone(),
            declared_cents,
            computed_cents,
        });
    Ok((order, warning))
}

fn parse_items(cell: &str, max_name_chars: usize) -> Result<Vec<ParsedItem>, Invalid> {
    if cell.is_empty() {
        return Err(Invalid::new("items", "items is empty"));
    }
    let elements: Vec<&RawValue> = serde_json::from_str(cell).map_err(|e| {
        if e.is_data() {
            Invalid::new("items", "items must be a JSON array")
        } else {
            Invalid::new("items", format!("items is not valid JSON: {e}"))
        }
    })?;
    if elements.is_empty() {
        return Err(Invalid::new("items", "items is an empty array"));
    }
    elements
        .iter()
        .enumerate()
        .map(|(index, raw)| parse_item(index, raw, max_name_chars))
        .collect()
}

fn parse_item(index: usize, raw: &RawValue, max_name_chars: usize) -> Result<ParsedItem, Invalid> {
    let item: JsonItem<'_> = serde_json::from_str(raw.get()).map_err(|e| {
        Invalid::new(
            format!("items[{index}]"),
            format!("items[{index}] must be an object with product, qty and price: {e}"),
        )
    })?;

    let column = ItemField(index, "product");
    let name = item.product.as_deref().map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Err(Invalid::new(
            column.to_string(),
            format!("{column} is empty"),
        ));
    }
    if name.len() > max_name_chars {
        fields::check_length(name, &column.to_string(), max_name_chars)?;
    }
    let sku = fields::slug(name);
    if sku.is_empty() {
        return Err(Invalid::new(
            column.to_string(),
            format!("{column} `{name}` has no letters or digits"),
        ));
    }

    let column = ItemField(index, "qty");
    let qty = fields::qty(&scalar_text(item.qty, column)?, column)?;

    let column = ItemField(index, "price");
    let price = scalar_text(item.price, column)?;
    let unit_price_cents =
        money::parse_decimal_cents(&price).map_err(|e| money_invalid(column, &price, e))?;

    Ok(ParsedItem {
        sku,
        name: name.to_owned(),
        unit_price_cents,
        qty,
    })
}

/// `items[i].field`, formatted only when an error needs it (hot path).
#[derive(Debug, Clone, Copy)]
struct ItemField(usize, &'static str);

impl fmt::Display for ItemField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "items[{}].{}", self.0, self.1)
    }
}

/// The text of a JSON scalar: a number as written, or a string's contents.
fn scalar_text(raw: Option<&RawValue>, column: impl fmt::Display) -> Result<Cow<'_, str>, Invalid> {
    let raw =
        raw.ok_or_else(|| Invalid::new(column.to_string(), format!("{column} is missing")))?;
    let text = raw.get();
    if text.starts_with('"') {
        return serde_json::from_str::<String>(text)
            .map(Cow::Owned)
            .map_err(|e| Invalid::new(column.to_string(), format!("{column}: {e}")));
    }
    Ok(Cow::Borrowed(text))
}

fn money_invalid(column: impl fmt::Display, text: &str, error: MoneyError) -> Invalid {
    let reason = match error {
        MoneyError::Empty => format!("{column} is empty"),
        error => format!("{column} `{text}`: {error}"),
    };
    Invalid::new(column.to_string(), reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout::detect(&ByteRecord::from(ORDERS_COLUMNS.to_vec())).unwrap()
    }

    /// Row 5 with these cells: order id, customer id, total, items.
    fn cells(cells: [&str; 4]) -> Result<(ParsedOrder, Option<Warning>), Invalid> {
        parse(
            &ByteRecord::from(cells.to_vec()),
            &layout(),
            5,
            "EUR",
            1_000,
        )
    }

    fn row(total: &str, items: &str) -> Result<(ParsedOrder, Option<Warning>), Invalid> {
        cells(["ORD-1", "7", total, items])
    }

    fn reason(total: &str, items: &str) -> (String, String) {
        let err = row(total, items).unwrap_err();
        (err.column, err.reason)
    }

    #[test]
    fn parses_prices_exactly_from_json_text() {
        let (order, warning) = row(
            "1198.48",
            r#"[{"product":"Laptop","qty":1,"price":999},{"product":"Mouse Pad","qty":2,"price":"99.74"}]"#,
        )
        .unwrap();
        assert_eq!(warning, None);
        assert_eq!(order.total_cents(), 119_848);
        assert_eq!(order.items[1].sku, "mouse-pad");
        assert_eq!(order.items[1].name, "Mouse Pad");
        assert_eq!((order.currency.as_str(), order.first_line), ("EUR", 5));
        assert_eq!(order.customer.external_id, "7");
    }

    #[test]
    fn disagreeing_total_is_a_warning_and_items_win() {
        let (order, warning) = row(
            "39.99",
            r#"[{"product":"USB Cable","qty":2,"price":19.99}]"#,
        )
        .unwrap();
        assert_eq!(order.total_cents(), 3_998);
        assert_eq!(order.declared_total_cents, Some(3_999));
        assert!(matches!(
            warning,
            Some(Warning::TotalMismatch {
                declared_cents: 3_999,
                computed_cents: 3_998,
                line: 5,
                ..
            })
        ));
        let (order, warning) = row("", r#"[{"product":"X","qty":1,"price":1}]"#).unwrap();
        assert_eq!((order.declared_total_cents, warning), (None, None));
    }

    #[test]
    fn bad_items_are_rejected_with_column_and_reason() {
        let ok_total = "1.00";
        let cases = [
            ("[", "items", "items is not valid JSON"),
            (r#"{"product":"X"}"#, "items", "items must be a JSON array"),
            ("[]", "items", "items is an empty array"),
            ("", "items", "items is empty"),
            ("[1]", "items[0]", "items[0] must be an object"),
            (
                r#"[{"qty":1,"price":1}]"#,
                "items[0].product",
                "items[0].product is empty",
            ),
            (
                r#"[{"product":"?!","qty":1,"price":1}]"#,
                "items[0].product",
                "has no letters or digits",
            ),
            (
                r#"[{"product":"X","qty":1,"price":1},{"product":"Y","qty":1,"price":"abc"}]"#,
                "items[1].price",
                "not a number",
            ),
        ];
        // One item X: the fields of `qty` and `price` as written, the column
        // refused and a fragment of the reason.
        let fields = [
            (
                r#""qty":0,"price":1"#,
                "qty",
                "items[0].qty must be at least 1",
            ),
            (r#""qty":1.5,"price":1"#, "qty", "must be a whole number"),
            (r#""price":1"#, "qty", "items[0].qty is missing"),
            (r#""qty":1,"price":-1"#, "price", "amount is negative"),
            (r#""qty":1,"price":1.999"#, "price", "more than 2 decimals"),
            (r#""qty":1,"price":1e2"#, "price", "exponent"),
            (r#""qty":1,"price":null"#, "price", "is missing"),
            (r#""qty":1,"price":true"#, "price", "not a number"),
        ];
        let one_item = fields.map(|(fields, field, fragment)| {
            let items = format!(r#"[{{"product":"X",{fields}}}]"#);
            (items, format!("items[0].{field}"), fragment)
        });
        let cases =
            cases.map(|(items, column, fragment)| (items.to_owned(), column.to_owned(), fragment));
        for (items, column, fragment) in cases.into_iter().chain(one_item) {
            let (got_column, got_reason) = reason(ok_total, &items);
            assert_eq!(got_column, column, "{items}");
            assert!(got_reason.contains(fragment), "{items}: {got_reason}");
        }
    }

    #[test]
    fn bad_ids_totals_and_overflow() {
        let items = r#"[{"product":"X","qty":1,"price":1}]"#;
        assert_eq!(
            reason("-1", items),
            ("total".into(), "total `-1`: amount is negative".into())
        );
        assert_eq!(
            reason("1.234", items).1,
            "total `1.234`: amount has more than 2 decimals"
        );
        let err = cells([" ", "7", "1", items]).unwrap_err();
        assert_eq!(
            (err.column.as_str(), err.reason.as_str()),
            ("order_id", "order_id is empty")
        );
        let err = cells(["O", "", "1", items]).unwrap_err();
        assert_eq!(err.reason, "customer_id is empty");
        let huge = r#"[{"product":"X","qty":1000,"price":92233720368547758}]"#;
        assert_eq!(reason("", huge).1, "order total is too large");
    }
}
