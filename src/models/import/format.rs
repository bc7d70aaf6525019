//! The two order-file formats and their detection from the header line.

use std::{fmt, str::FromStr};

use csv::ByteRecord;

/// Required columns of the orders format, one row per order.
pub const ORDERS_COLUMNS: [&str; 4] = ["order_id", "customer_id", "total", "items"];

/// Required columns of the items format, one row per order item.
pub const ITEMS_COLUMNS: [&str; 10] = [
    "external_order_id",
    "order_placed_at",
    "currency",
    "customer_id",
    "customer_email",
    "customer_name",
    "product_sku",
    "product_name",
    "unit_price_cents",
    "qty",
];

/// Which of the two supported layouts a file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `order_id,customer_id,total,items` with a JSON items array.
    Orders,
    /// One row per item, rows of one order possibly far apart.
    Items,
}

impl Format {
    /// The lowercase name used in CLI arguments and in the `imports` table.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Orders => "orders",
            Self::Items => "items",
        }
    }

    /// The required columns, in canonical (generator) order.
    #[must_use]
    pub const fn columns(self) -> &'static [&'static str] {
        match self {
            Self::Orders => &ORDERS_COLUMNS,
            Self::Items => &ITEMS_COLUMNS,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "orders" => Ok(Self::Orders),
            "items" => Ok(Self::Items),
            other => Err(format!(
                "unknown format `{other}`: expected `orders` or `items`"
            )),
        }
    }
}

/// Why a header line cannot be imported; the whole file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// No header line at all.
    #[error("the file is empty: expected a header line")]
    Empty,
    /// Looks like one format but lacks some of its columns.
    #[error("header is missing required column(s) for the {format} format: {}", missing.join(", "))]
    MissingColumns {
        /// The format the header most resembles.
        format: Format,
        /// Required columns not found.
        missing: Vec<&'static str>,
    },
    /// A required column appears twice, so its value would be ambiguous.
    #[error("header has column `{0}` more than once")]
    DuplicateColumn(&'static str),
    /// The header line is longer than the line cap.
    #[error("the header line is longer than {0} bytes (settings.import.max_line_bytes): is this a CSV order file?")]
    TooLong(usize),
    /// Has every column of both formats.
    #[error("header matches both the orders and the items format: remove one set of columns")]
    Ambiguous,
    /// Resembles neither format.
    #[error("unrecognised header `{found}`: expected the orders format ({}) or the items format ({})", ORDERS_COLUMNS.join(","), ITEMS_COLUMNS.join(","))]
    Unknown {
        /// The header as read (shortened).
        found: String,
    },
}

/// A detected format and where each of its columns sits in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    format: Format,
    width: usize,
    positions: Vec<usize>,
}

impl Layout {
    /// Detects the format from a header record; extra columns are ignored.
    ///
    /// # Errors
    /// Empty, unknown, ambiguous, duplicated or incomplete headers.
    pub fn detect(header: &ByteRecord) -> Result<Self, HeaderError> {
        let names: Vec<String> = header.iter().map(normalize).collect();
        if names.iter().all(String::is_empty) {
            return Err(HeaderError::Empty);
        }
        let orders = Self::locate(Format::Orders, &names)?;
        let items = Self::locate(Format::Items, &names)?;
        match (orders, items) {
            (Ok(_), Ok(_)) => Err(HeaderError::Ambiguous),
            (Ok(layout), Err(_)) | (Err(_), Ok(layout)) => Ok(layout),
            (Err(orders_missing), Err(items_missing)) => {
                // Report against the format the header resembles most; the
                // shared customer_id column alone does not count as resemblance.
                let score = |format: Format, missing: &[&str]| {
                    let shared = usize::from(!missing.contains(&"customer_id"));
                    format.columns().len() - missing.len() - shared
                };
                let orders_score = score(Format::Orders, &orders_missing);
                let items_score = score(Format::Items, &items_missing);
                let (format, missing) = match orders_score.cmp(&items_score) {
                    std::cmp::Ordering::Greater => (Format::Orders, orders_missing),
                    std::cmp::Ordering::Less => (Format::Items, items_missing),
                    std::cmp::Ordering::Equal => {
                        return Err(HeaderError::Unknown {
                            found: shorten(&names.join(",")),
                        })
                    }
                };
                Err(HeaderError::MissingColumns { format, missing })
            }
        }
    }

    /// The detected format.
    #[must_use]
    pub fn format(&self) -> Format {
        self.format
    }

    /// Number of cells in the header, which every row must match.
    #[must_use]
    pub fn width(&self) -> usize {
        self.width
    }

    /// Row index of the `column`-th entry of [`Format::columns`].
    #[must_use]
    pub fn position(&self, column: usize) -> usize {
        self.positions[column]
    }

    /// Finds every column of `format`; the inner `Err` lists the missing ones.
    fn locate(
        format: Format,
        names: &[String],
    ) -> Result<Result<Self, Vec<&'static str>>, HeaderError> {
        let mut positions = Vec::with_capacity(format.columns().len());
        let mut missing = Vec::new();
        for &column in format.columns() {
            let mut found = names.iter().enumerate().filter(|(_, name)| *name == column);
            match (found.next(), found.next()) {
                (Some(_), Some(_)) => return Err(HeaderError::DuplicateColumn(column)),
                (Some((index, _)), None) => positions.push(index),
                (None, _) => missing.push(column),
            }
        }
        if !missing.is_empty() {
            return Ok(Err(missing));
        }
        Ok(Ok(Self {
            format,
            width: names.len(),
            positions,
        }))
    }
}

/// Header cell as compared: BOM, surrounding whitespace and case removed.
pub(super) fn normalize(cell: &[u8]) -> String {
    String::from_utf8_lossy(cell)
        .trim_start_matches('\u{feff}')
        .trim()
        .to_ascii_lowercase()
}

/// At most 200 characters on one line, for a one-line error message.
fn shorten(text: &str) -> String {
    const MAX: usize = 200;
    let mut short: String = text
        .chars()
        .take(MAX)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(MAX).is_some() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(header: &str) -> Result<Layout, HeaderError> {
        Layout::detect(&ByteRecord::from(header.split(',').collect::<Vec<_>>()))
    }

    #[test]
    fn detects_both_formats() {
        let orders = detect("order_id,customer_id,total,items").unwrap();
        assert_eq!((orders.format(), orders.width()), (Format::Orders, 4));
        let items = detect(&ITEMS_COLUMNS.join(",")).unwrap();
        assert_eq!((items.format(), items.width()), (Format::Items, 10));
        assert_eq!(items.position(9), 9);
    }

    #[test]
    fn tolerates_bom_case_spaces_reordering_and_extra_columns() {
        let layout = detect("\u{feff}Items , NOTE,  Order_ID,TOTAL ,customer_id").unwrap();
        assert_eq!(layout.format(), Format::Orders);
        assert_eq!(layout.width(), 5);
        let positions: Vec<usize> = (0..4).map(|c| layout.position(c)).collect();
        assert_eq!(positions, [2, 4, 3, 0]);
    }

    #[test]
    fn missing_columns_are_named() {
        let err = detect("external_order_id,order_placed_at,currency,customer_id,product_sku,qty")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "header is missing required column(s) for the items format: customer_email, customer_name, product_name, unit_price_cents"
        );
        let err = detect("order_id,customer_id,items").unwrap_err();
        assert_eq!(
            err,
            HeaderError::MissingColumns {
                format: Format::Orders,
                missing: vec!["total"]
            }
        );
    }

    #[test]
    fn unknown_empty_duplicate_and_ambiguous_headers() {
        let err = detect("name,price,customer_id").unwrap_err();
        assert!(err.to_string().starts_with(
            "unrecognised header `name,price,customer_id`: expected the orders format (order_id,"
        ));
        assert_eq!(detect("").unwrap_err(), HeaderError::Empty);
        let long = format!("a\nb,{}", "x".repeat(300));
        let HeaderError::Unknown { found } = detect(&long).unwrap_err() else {
            panic!("expected Unknown")
        };
        assert_eq!(
            (found.chars().count(), found.starts_with("a b,x")),
            (201, true)
        );
        assert_eq!(
            detect("order_id,customer_id,total,items,ORDER_ID").unwrap_err(),
            HeaderError::DuplicateColumn("order_id")
        );
        let both = format!("order_id,total,items,{}", ITEMS_COLUMNS.join(","));
        assert_eq!(detect(&both).unwrap_err(), HeaderError::Ambiguous);
    }

    #[test]
    fn format_names_parse() {
        assert_eq!(" Items ".parse::<Format>(), Ok(Format::Items));
        assert_eq!("orders".parse::<Format>(), Ok(Format::Orders));
        assert!("xml".parse::<Format>().is_err());
    }
}
