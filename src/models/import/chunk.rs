//! What the stream hands out: chunks, running counts, fatal errors, options.

use serde::{Deserialize, Serialize};

use super::{
    format::HeaderError,
    parsed::{ParsedOrder, Reject, Warning},
};

/// Tuning knobs for [`OrderStream`](super::stream::OrderStream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOptions {
    /// Orders per chunk (one import-chunk job each).
    pub chunk_size: usize,
    /// Currency of orders-format files, which carry none.
    pub default_currency: String,
    /// Items format: orders kept open at once; beyond, orders are put off
    /// to another pass over the file (memory stays bounded, orders whole).
    pub max_open_orders: usize,
    /// Items format: rows kept open at once, likewise.
    pub max_open_items: usize,
    /// Items format: an order with more rows than this is rejected whole.
    pub max_items_per_order: usize,
    /// Orders format: finished order ids remembered to detect duplicates.
    pub recent_ids: usize,
    /// A row (or the header) longer than this many bytes is rejected.
    pub max_line_bytes: usize,
    /// A text cell longer than this many characters is rejected.
    pub max_field_chars: usize,
    /// An id cell (order, customer, SKU) longer than this is rejected.
    pub max_id_chars: usize,
}

use crate::settings::{DEFAULT_MAX_FIELD_CHARS, DEFAULT_MAX_ID_CHARS, DEFAULT_MAX_LINE_BYTES};

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            chunk_size: 1_000,
            default_currency: "EUR".to_owned(),
            max_open_orders: 16_384,
            max_open_items: 131_072,
            max_items_per_order: 10_000,
            recent_ids: 262_144,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_field_chars: DEFAULT_MAX_FIELD_CHARS,
            max_id_chars: DEFAULT_MAX_ID_CHARS,
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
        source: std::io::Error,
    },
    /// Items format from a pipe: it must be read twice.
    #[error("the items format is read twice (rows of one order may stand anywhere in the file): give a regular file, not a pipe or a device (save the stream to a file first)")]
    NotSeekable,
    /// The second pass found what the first did not: the file changed.
    #[error("the file changed while it was imported ({0}): import it again once it is complete")]
    Changed(String),
    /// More lines than the order-end table can number.
    #[error("line {0} is past the last line one items-format import can hold ({max}): split the file", max = super::spans::MAX_LINE)]
    TooManyLines(u64),
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
