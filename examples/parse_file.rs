//! Parses an order file with the import library alone (no database, no Redis)
//! and prints rows/s: the parser's share of `orders_import`, for BENCHMARKS.md.
//!
//!     cargo run --release --example parse_file -- orders.csv [chunk_size]
use std::{path::Path, time::Instant};

use orders_flow::models::import::{OrderStream, StreamOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: parse_file FILE [chunk_size]")?;
    let chunk_size = args.next().map(|n| n.parse()).transpose()?.unwrap_or(1_000);
    let options = StreamOptions {
        chunk_size,
        ..StreamOptions::default()
    };
    let started = Instant::now();
    let mut stream = OrderStream::open(Path::new(&path), options)?;
    let mut chunks = 0u64;
    while stream.next_chunk()?.is_some() {
        chunks += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    let stats = stream.stats();
    println!(
        "{} rows, {} orders, {} rejected, {chunks} chunks in {secs:.2} s: {:.0} rows/s, {:.1} MB/s",
        stats.rows_read,
        stats.orders,
        stats.rejected_rows,
        stats.rows_read as f64 / secs,
        stats.bytes_read as f64 / secs / 1e6
    );
    Ok(())
}
