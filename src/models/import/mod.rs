//! Order-file import: format detection, row validation, streaming grouping
//! into chunks, the rejects file, and the reproducible CSV generator.
//!
//! Nothing here touches the database or the queue: the `orders_import` task
//! feeds each [`Chunk`] to an import-chunk job and writes its rejects with
//! [`RejectsWriter`].
//!
//! Rules worth knowing:
//! - Money is integer cents parsed from text ([`money`]); JSON item prices
//!   are read from the number's text, never through f64.
//! - Line numbers are the physical 1-based lines an editor shows, header =
//!   line 1, correct for CRLF files and blank lines ([`records`]).
//! - Items format: rows of one order may stand anywhere in the file. A first
//!   pass records where each order ends ([`spans`]), the second hands an
//!   order out only after its last row ([`grouper`]): whole, or, when any of
//!   its rows is bad, rejected whole. The input must be a regular file.
//! - Orders format: one row per order, read once (any input); a bad row is
//!   rejected alone, a repeated order id as a duplicate within the last
//!   `recent_ids` orders ([`recent`]).
//! - Hostile input: a row longer than `max_line_bytes` is rejected without
//!   being held ([`records`]), a cell longer than its cap is rejected.
//! - Orders-format SKUs are slugs of the product name ([`fields::slug`]).

pub mod catalog;
pub mod chunk;
pub mod fields;
pub mod format;
pub mod generator;
pub mod grouper;
pub mod items_row;
pub mod lines;
pub mod model;
pub mod money;
pub mod orders_row;
pub mod prng;
pub mod products_file;
pub mod recent;
pub mod records;
pub mod rejects;
pub mod spans;
pub mod stream;

pub use chunk::{Chunk, ImportError, ImportStats, StreamOptions};
pub use format::{Format, HeaderError, Layout};
pub use generator::{generate, GenerateOptions, GenerateStats};
pub use model::{CustomerRef, ParsedItem, ParsedOrder, Reject, Warning};
pub use money::{format_cents, parse_cents, parse_decimal_cents, MoneyError};
pub use rejects::RejectsWriter;
pub use stream::OrderStream;
