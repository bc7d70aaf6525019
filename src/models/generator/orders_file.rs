//! Reproducible order files for demos and benchmarks.
//!
//! Same options (seed included) → same bytes. Orders are chronological over
//! the 30 days before `now`, with 1–5 distinct products each, skewed toward a
//! few hot products and top customers. Items-format rows of one order are
//! adjacent. Rows are formatted into one reused buffer written in 64 KiB
//! blocks, so nothing is allocated per row.

use std::{
    fmt::Write as _,
    io::{self, Write},
};

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};

use super::catalog::{Customer, Product};
use crate::models::{import::Format, money::DisplayCents, prng::SplitMix64};

const CURRENCY: &str = "EUR";
const SPAN_SECONDS: u64 = 30 * 24 * 3600;
const BLOCK: usize = 1 << 16;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Number of orders.
    pub orders: u64,
    /// File layout.
    pub format: Format,
    /// Drives every random choice.
    pub seed: u64,
    /// Size of the customer base (>= 1).
    pub customers: u64,
    /// Size of the catalog (>= 1).
    pub products: u64,
    /// End of the 30-day window; fixed by the caller for reproducibility.
    pub now: DateTime<Utc>,
}

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenerateStats {
    /// Orders written.
    pub orders: u64,
    /// Data rows written (the header excluded).
    pub rows: u64,
    /// Order items written.
    pub items: u64,
    /// Bytes written, header included.
    pub bytes: u64,
}

/// Writes a complete file (header and rows) to `writer`.
///
/// # Errors
/// `InvalidInput` for zero customers/products with orders to write, or the
/// writer's error.
pub fn generate(mut writer: impl Write, options: GenerateOptions) -> io::Result<GenerateStats> {
    if options.orders > 0 && (options.customers == 0 || options.products == 0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "customers and products must be at least 1",
        ));
    }
    let mut rng = SplitMix64::new(options.seed);
    let mut stats = GenerateStats::default();
    let mut buf = String::with_capacity(BLOCK + 4096);
    buf.push_str(&options.format.columns().join(","));
    buf.push('\n');
    let start = options.now - Duration::seconds(i64::try_from(SPAN_SECONDS).unwrap_or(0));
    let mut lines = [(0u64, 0u64); 5];

    for n in 0..options.orders {
        let customer = Customer::at(rng.skewed(options.customers));
        let items = pick_items(&mut rng, options.products, &mut lines);
        let order = OrderLine {
            number: n + 1,
            seed: options.seed,
            customer,
            items,
        };
        match options.format {
            Format::Items => {
                // Chronological: order n sits in its own slice of the window.
                let slice = SPAN_SECONDS / options.orders.max(1);
                let base = u128::from(n) * u128::from(SPAN_SECONDS) / u128::from(options.orders);
                let offset = u64::try_from(base).unwrap_or(0) + rng.below(slice.max(1));
                let placed_at = start + Duration::seconds(i64::try_from(offset).unwrap_or(0));
                order
                    .write_items(&mut buf, placed_at)
                    .map_err(io::Error::other)?;
                stats.rows += items.len() as u64;
            }
            Format::Orders => {
                order.write_orders(&mut buf).map_err(io::Error::other)?;
                stats.rows += 1;
            }
        }
        stats.orders += 1;
        stats.items += items.len() as u64;
        if buf.len() >= BLOCK {
            writer.write_all(buf.as_bytes())?;
            stats.bytes += buf.len() as u64;
            buf.clear();
        }
    }
    writer.write_all(buf.as_bytes())?;
    stats.bytes += buf.len() as u64;
    writer.flush()?;
    Ok(stats)
}

/// Fills `lines` with 1–5 distinct (product index, qty) pairs.
fn pick_items<'a>(
    rng: &mut SplitMix64,
    products: u64,
    lines: &'a mut [(u64, u64); 5],
) -> &'a [(u64, u64)] {
    // Weights for 1..=5 items: 35%, 25%, 20%, 12%, 8% (mean 2.3).
    let wanted = match rng.below(100) {
        0..=34 => 1,
        35..=59 => 2,
        60..=79 => 3,
        80..=91 => 4,
        _ => 5,
    };
    let mut count = 0;
    for _ in 0..wanted {
        // A few redraws keep products distinct; small catalogs get fewer items.
        for _ in 0..8 {
            let product = rng.skewed(products);
            if lines[..count].iter().all(|&(p, _)| p != product) {
                let qty = match rng.below(100) {
                    0..=79 => 1,
                    80..=94 => 2,
                    _ => 3,
                };
                lines[count] = (product, qty);
                count += 1;
                break;
            }
        }
    }
    &lines[..count]
}

/// One order about to be written.
struct OrderLine<'a> {
    number: u64,
    seed: u64,
    customer: Customer,
    items: &'a [(u64, u64)],
}

impl OrderLine<'_> {
    fn write_id(&self, buf: &mut String) -> std::fmt::Result {
        write!(buf, "ORD-{}-{:08}", self.seed, self.number)
    }

    fn write_items(&self, buf: &mut String, placed_at: DateTime<Utc>) -> std::fmt::Result {
        let c = self.customer;
        for &(index, qty) in self.items {
            let p = Product::at(index);
            self.write_id(buf)?;
            write!(
                buf,
                ",{:04}-{:02}-{:02} {:02}:{:02}:{:02},{CURRENCY},CUST-{:06},",
                placed_at.year(),
                placed_at.month(),
                placed_at.day(),
                placed_at.hour(),
                placed_at.minute(),
                placed_at.second(),
                c.number
            )?;
            push_lower(buf, c.first);
            buf.push('.');
            push_lower(buf, c.last);
            writeln!(
                buf,
                "{}@example.com,{} {},SKU-{:06},{} {} {},{},{qty}",
                c.number, c.first, c.last, p.number, p.adjective, p.noun, p.number, p.price_cents
            )?;
        }
        Ok(())
    }

    fn write_orders(&self, buf: &mut String) -> std::fmt::Result {
        let total: i64 = self
            .items
            .iter()
            .map(|&(index, qty)| Product::at(index).price_cents * i64::try_from(qty).unwrap_or(1))
            .sum();
        self.write_id(buf)?;
        write!(
            buf,
            ",CUST-{:06},{},\"[",
            self.customer.number,
            DisplayCents(total)
        )?;
        for (i, &(index, qty)) in self.items.iter().enumerate() {
            let p = Product::at(index);
            if i > 0 {
                buf.push(',');
            }
            // Inside a quoted CSV cell every JSON quote is doubled.
            write!(
                buf,
                r#"{{""product"":""{} {} {}"",""qty"":{qty},""price"":{}}}"#,
                p.adjective,
                p.noun,
                p.number,
                DisplayCents(p.price_cents)
            )?;
        }
        buf.push_str("]\"\n");
        Ok(())
    }
}

fn push_lower(buf: &mut String, word: &str) {
    buf.extend(word.chars().map(|c| c.to_ascii_lowercase()));
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn options(format: Format, seed: u64) -> GenerateOptions {
        GenerateOptions {
            orders: 200,
            format,
            seed,
            customers: 50,
            products: 40,
            now: Utc.with_ymd_and_hms(2025, 11, 21, 0, 0, 0).unwrap(),
        }
    }

    fn bytes(options: &GenerateOptions) -> (Vec<u8>, GenerateStats) {
        let mut out = Vec::new();
        let stats = generate(&mut out, options.clone()).unwrap();
        (out, stats)
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        for format in [Format::Items, Format::Orders] {
            let (a, stats) = bytes(&options(format, 42));
            assert_eq!(a, bytes(&options(format, 42)).0);
            assert_ne!(a, bytes(&options(format, 43)).0);
            assert_eq!(stats.bytes, a.len() as u64);
            assert_eq!(stats.orders, 200);
        }
    }

    #[test]
    fn items_rows_look_right() {
        let (out, stats) = bytes(&options(Format::Items, 1));
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(Format::Items.columns().join(",").as_str())
        );
        let first: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert_eq!(first.len(), 10);
        assert_eq!(first[0], "ORD-1-00000001");
        assert!(first[1].starts_with("2025-10-2"), "{}", first[1]);
        assert!(first[4].ends_with("@example.com"));
        assert_eq!(text.lines().count() as u64, stats.rows + 1);
        assert!((1..=5).contains(&(stats.items / stats.orders)));
    }

    #[test]
    fn zero_customers_is_refused() {
        let mut opts = options(Format::Items, 1);
        opts.customers = 0;
        assert_eq!(
            generate(Vec::new(), opts).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
