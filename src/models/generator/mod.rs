//! Reproducible test data: the order files `orders_generate` writes for demos
//! and benchmarks, and the fixed shop they are drawn from.
//!
//! Kept apart from `import/` because it is the other side of the pipe: it
//! writes order files, `import/` reads them; nothing here parses or touches
//! the database. It sits under `models/` (not a top-level `fixtures/`) because
//! it writes the import's own [`Format`](crate::models::import::Format) and
//! prices with [`money`](crate::models::money), and tasks and tests call it.
//! Its random numbers come from [`prng`](crate::models::prng), which the fake
//! payment gateway shares.

pub mod catalog;
pub mod orders_file;

pub use orders_file::{generate, GenerateOptions, GenerateStats};
