//! The products file of `products_import`: `sku,name,price_cents,stock`.
//!
//! Same header tolerance as order files (BOM, case, spaces, extra columns)
//! and the same per-row rejects with physical line numbers.

use std::{fs::File, io::Read, path::Path};

use csv::{ByteRecord, ReaderBuilder};

use super::{
    fields::{self, Invalid},
    format::normalize,
    lines::LineTracked,
    parsed::Reject,
    recent::RecentIds,
};
use crate::models::money;

/// Required columns, in canonical order.
pub const PRODUCT_COLUMNS: [&str; 4] = ["sku", "name", "price_cents", "stock"];
/// SKUs remembered to reject a repeated one (beyond: the last row wins).
const RECENT_SKUS: usize = 262_144;

/// A validated product row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRow {
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    /// Units on hand, set as given (>= 0).
    pub stock: i64,
    pub line: u64,
}

/// Rows of one batch: valid ones and rejects.
#[derive(Debug, Default)]
pub struct ProductBatch {
    pub rows: Vec<ProductRow>,
    pub rejects: Vec<Reject>,
    /// Data rows read since the start of the file.
    pub rows_read: u64,
}

/// Why the whole products file is refused.
#[derive(Debug, thiserror::Error)]
pub enum ProductFileError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("the file is empty: expected a header line")]
    Empty,
    #[error("header is missing required column(s) for a products file: {} (expected {})", .0.join(", "), PRODUCT_COLUMNS.join(","))]
    MissingColumns(Vec<&'static str>),
    #[error("header has column `{0}` more than once")]
    DuplicateColumn(&'static str),
    #[error("cannot read the file at line {line}: {source}")]
    Read { line: u64, source: csv::Error },
}

/// Reads a products file batch by batch.
pub struct ProductStream<R: Read> {
    reader: csv::Reader<LineTracked<R>>,
    record: ByteRecord,
    positions: [usize; 4],
    width: usize,
    batch_size: usize,
    seen: RecentIds,
    rows_read: u64,
}

impl ProductStream<File> {
    /// Opens `path` and checks its header.
    ///
    /// # Errors
    /// Unopenable file, empty or incomplete header.
    pub fn open(path: &Path, batch_size: usize) -> Result<Self, ProductFileError> {
        let file = File::open(path).map_err(|source| ProductFileError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Self::new(file, batch_size)
    }
}

impl<R: Read> ProductStream<R> {
    /// Reads the header of `input`.
    ///
    /// # Errors
    /// Empty or incomplete header, read failure.
    pub fn new(input: R, batch_size: usize) -> Result<Self, ProductFileError> {
        let mut reader = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(LineTracked::new(input));
        let mut record = ByteRecord::new();
        let has_header = reader
            .read_byte_record(&mut record)
            .map_err(|source| ProductFileError::Read { line: 1, source })?;
        let names: Vec<String> = record.iter().map(normalize).collect();
        if !has_header || names.iter().all(String::is_empty) {
            return Err(ProductFileError::Empty);
        }
        let mut positions = [0; 4];
        let mut missing = Vec::new();
        for (slot, column) in PRODUCT_COLUMNS.iter().enumerate() {
            let mut found = names.iter().enumerate().filter(|(_, n)| n == column);
            match (found.next(), found.next()) {
                (Some(_), Some(_)) => return Err(ProductFileError::DuplicateColumn(column)),
                (Some((at, _)), None) => positions[slot] = at,
                (None, _) => missing.push(*column),
            }
        }
        if !missing.is_empty() {
            return Err(ProductFileError::MissingColumns(missing));
        }
        Ok(Self {
            reader,
            record,
            positions,
            width: names.len(),
            batch_size: batch_size.max(1),
            seen: RecentIds::new(RECENT_SKUS),
            rows_read: 0,
        })
    }

    /// The next batch of at most `batch_size` rows (valid or rejected), or
    /// `None` at the end of the file.
    ///
    /// # Errors
    /// An I/O error while reading.
    pub fn next_batch(&mut self) -> Result<Option<ProductBatch>, ProductFileError> {
        let mut batch = ProductBatch::default();
        while batch.rows.len() + batch.rejects.len() < self.batch_size {
            let more = self
                .reader
                .read_byte_record(&mut self.record)
                .map_err(|source| {
                    let at = self.reader.position().byte();
                    let line = self.reader.get_mut().line_of_record(at);
                    ProductFileError::Read { line, source }
                })?;
            if !more {
                break;
            }
            self.rows_read += 1;
            let start = self.record.position().map_or(0, csv::Position::byte);
            let line = self.reader.get_mut().line_of_record(start);
            match self.parse(line) {
                Ok(row) => {
                    self.seen.insert(&row.sku, line);
                    batch.rows.push(row);
                }
                Err(invalid) => batch.rejects.push(Reject {
                    line,
                    column: invalid.column,
                    reason: invalid.reason,
                    raw: raw_row(&self.record),
                }),
            }
        }
        batch.rows_read = self.rows_read;
        Ok((!batch.rows.is_empty() || !batch.rejects.is_empty()).then_some(batch))
    }

    fn parse(&self, line: u64) -> Result<ProductRow, Invalid> {
        let record = &self.record;
        if record.len() != self.width {
            let reason = format!("expected {} cells, found {}", self.width, record.len());
            return Err(Invalid::new("row", reason));
        }
        let [sku_at, name_at, price_at, stock_at] = self.positions;
        let sku = fields::id(record, sku_at, "sku")?;
        if let Some(first) = self.seen.get(sku) {
            let reason = format!("duplicate sku {sku} (first seen at line {first})");
            return Err(Invalid::new("sku", reason));
        }
        let name = fields::id(record, name_at, "name")?;
        let price = fields::text(record, price_at, "price_cents")?;
        let price_cents = money::parse_cents(price)
            .map_err(|e| Invalid::new("price_cents", format!("price_cents `{price}`: {e}")))?;
        let stock = stock(fields::text(record, stock_at, "stock")?)?;
        Ok(ProductRow {
            sku: sku.to_owned(),
            name: name.to_owned(),
            price_cents,
            stock,
            line,
        })
    }
}

/// A stock level: a whole number >= 0.
fn stock(value: &str) -> Result<i64, Invalid> {
    let reason = if value.is_empty() {
        "stock is empty".to_owned()
    } else if let Ok(n) = value.parse::<i64>() {
        if n >= 0 {
            return Ok(n);
        }
        "stock must not be negative".to_owned()
    } else {
        format!("stock `{value}` is not a whole number")
    };
    Err(Invalid::new("stock", reason))
}

/// The record as one CSV line, for the rejects file.
fn raw_row(record: &ByteRecord) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let bytes = writer
        .write_byte_record(record)
        .ok()
        .and_then(|()| writer.into_inner().ok())
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes)
        .trim_end_matches('\n')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> (Vec<ProductRow>, Vec<(u64, String, String)>) {
        let mut stream = ProductStream::new(text.as_bytes(), 2).unwrap();
        let (mut rows, mut rejects) = (Vec::new(), Vec::new());
        while let Some(batch) = stream.next_batch().unwrap() {
            rows.extend(batch.rows);
            rejects.extend(
                batch
                    .rejects
                    .into_iter()
                    .map(|r| (r.line, r.column, r.reason)),
            );
        }
        (rows, rejects)
    }

    #[test]
    fn header_tolerance_and_row_rejects() {
        let text = "\u{feff} SKU ,Name,Note,PRICE_CENTS, stock\n\
                    A,Apple,x,120,5\n\
                    B,Banana,x,1.5,5\n\
                    ,Nothing,x,1,1\n\
                    C,Cherry,x,100,-1\n\
                    D,Date,x,100\n\
                    A,Again,x,1,1\n\
                    E,Elder,x,0,0\n";
        let (rows, rejects) = all(text);
        let skus: Vec<&str> = rows.iter().map(|r| r.sku.as_str()).collect();
        assert_eq!(skus, ["A", "E"]);
        assert_eq!(
            (rows[0].price_cents, rows[0].stock, rows[0].line),
            (120, 5, 2)
        );
        let rejects: Vec<(u64, &str, &str)> = rejects
            .iter()
            .map(|(l, c, r)| (*l, c.as_str(), r.as_str()))
            .collect();
        assert_eq!(
            rejects,
            [
                (
                    3,
                    "price_cents",
                    "price_cents `1.5`: amount must be a whole number of cents"
                ),
                (4, "sku", "sku is empty"),
                (5, "stock", "stock must not be negative"),
                (6, "row", "expected 5 cells, found 4"),
                (7, "sku", "duplicate sku A (first seen at line 2)"),
            ]
        );
    }

    #[test]
    fn missing_columns_refuse_the_file() {
        let err = ProductStream::new("sku,name,stock\n".as_bytes(), 10)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "header is missing required column(s) for a products file: price_cents (expected sku,name,price_cents,stock)"
        );
        assert!(matches!(
            ProductStream::new("".as_bytes(), 10),
            Err(ProductFileError::Empty)
        ));
    }
}
