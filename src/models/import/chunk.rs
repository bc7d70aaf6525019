//! What the stream hands out: chunks, running counts, fatal errors, options.

use serde::{Deserialize, Serialize};

use super::{
    format::HeaderError,
    model::{ParsedOrder, Reject, Warning},
};

/// Tuning knobs for [`OrderStream`](super::stream::OrderStream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOptions {
    /// Orders per chunk (one import-chunk job each).
    pub chunk_size: usize,
    /// Currency of orders-format files, which carry none.
    pub default_currency: String,
    /// Items format: orders kept open while their rows may still come.
    pub max_open_orders: usize,
    /// Items format: items kept open (bounds memory for large orders).
    pub max_open_items: usize,
    /// Items format: rows of one order beyond this are rejected.
    pub max_items_per_order: usize,
    /// Finished order ids remembered to detect duplicates and late rows.
    pub recent_ids: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            chunk_size: 1_000,
            default_currency: "EUR".to_owned(),
            max_open_orders: 16_384,
            max_open_items: 131_072,
            max_items_per_order: 10_000,
            recent_ids: 262_144,
        }
    }
}

/// Running counts since the start of the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportStats {
    /// Data rows read (the header excluded).
    pub rows_read: u64,
    /// Orders handed out in chunks.
    pub orders: u64,
    /// Rows rejected.
    pub rejected_rows: u64,
    /// Warnings raised.
    pub warnings: u64,
    /// Bytes of the file consumed, for progress.
    pub bytes_read: u64,
}

/// A batch of work: up to `chunk_size` orders plus what was rejected meanwhile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// Complete orders, in file order of their first row (may be empty).
    pub orders: Vec<ParsedOrder>,
    /// Rows rejected since the previous chunk.
    pub rejects: Vec<Reject>,
    /// Warnings raised since the previous chunk.
    pub warnings: Vec<Warning>,
    /// Counts as of this chunk.
    pub stats: ImportStats,
}

/// A problem that stops the whole import; nothing should be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The path given.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The header is not one of the two formats.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// Reading failed (I/O error) at `line`.
    #[error("cannot read the file at line {line}: {source}")]
    Read {
        /// Line being read.
        line: u64,
        /// Why.
        source: csv::Error,
    },
    /// The configured default currency is not a 3-letter code.
    #[error("default currency `{0}` is not a 3-letter code")]
    DefaultCurrency(String),
}

impl Chunk {
    /// True when the chunk carries no orders, rejects or warnings.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty() && self.rejects.is_empty() && self.warnings.is_empty()
    }
}
