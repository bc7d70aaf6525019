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
//!   line 1, correct for CRLF files and blank lines ([`lines`]).
//! - A bad row is rejected alone; an items-format order whose other rows
//!   are good is still imported without the rejected row.
//! - Items format: rows of one order may be apart by up to
//!   `StreamOptions::max_open_orders` orders ([`grouper`]); later ones are
//!   rejected as "order rows too far apart" while the order id is among the
//!   last `recent_ids` flushed, and beyond that reach the database as a
//!   duplicate id. Orders format: a repeated order id is rejected as a
//!   duplicate within that same window ([`recent`]).
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
pub mod rejects;
pub mod stream;

pub use chunk::{Chunk, ImportError, ImportStats, StreamOptions};
pub use format::{Format, HeaderError, Layout};
pub use generator::{generate, GenerateOptions, GenerateStats};
pub use model::{CustomerRef, ParsedItem, ParsedOrder, Reject, Warning};
pub use money::{format_cents, parse_cents, parse_decimal_cents, MoneyError};
pub use rejects::RejectsWriter;
pub use stream::OrderStream;
