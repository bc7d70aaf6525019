//! Order-file import: format detection, row validation, streaming grouping
//! into chunks, the rejects file, and the products file. The order files of
//! demos and benchmarks are written by [`crate::models::generator`].
//!
//! Which module is which:
//! - Reading bytes: [`records`] (capped CSV records of order files, with
//!   their lines), [`lines`] (line numbers under `csv::Reader`, for the
//!   products file), [`format`] (the header and which layout it is).
//! - Parsing rows: [`fields`] (cells), [`items_row`] and [`orders_row`] (one
//!   row of each layout), [`products_file`] (the products file), into the
//!   shapes of [`parsed`].
//! - Grouping rows into orders and chunks: [`spans`], [`grouper`],
//!   [`recent`], [`stream`], [`chunk`].
//! - Writing: [`rejects`] (the rejects file). A chunk is written to the
//!   database by `models::import_writer`.
//!
//! Nothing here touches the database or the queue: the `orders_import` task
//! feeds each [`Chunk`] to an import-chunk job and writes its rejects with
//! [`RejectsWriter`].
//!
//! Rules worth knowing:
//! - Money is integer cents parsed from text ([`crate::models::money`]); JSON item prices
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

pub mod chunk;
pub mod fields;
pub mod format;
pub mod grouper;
pub mod items_row;
#[cfg(test)]
mod line_cases;
pub mod lines;
pub mod orders_row;
pub mod parsed;
pub mod products_file;
pub mod recent;
pub mod records;
pub mod rejects;
pub mod spans;
pub mod stream;

pub use chunk::{Chunk, ImportError, ImportStats, StreamOptions};
pub use format::{Format, HeaderError, Layout};
pub use parsed::{CustomerRef, ParsedItem, ParsedOrder, Reject, Warning};
pub use rejects::RejectsWriter;
pub use stream::OrderStream;
