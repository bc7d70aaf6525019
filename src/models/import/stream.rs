//! Streams an order file into chunks of parsed orders, rejects and warnings.
//!
//! Memory is bounded by the options, never by the file: records are capped
//! at `max_line_bytes` ([`records`](super::records)), a chunk holds at most
//! `chunk_size` orders, `chunk_size` rejects/warnings and about 1 MiB of
//! rejected text; the orders format keeps the recent-id window, the items
//! format the per-order last lines ([`spans`](super::spans)) and the open
//! orders ([`grouper`](super::grouper)).
//!
//! Items format: a first pass records where each order ends; the second
//! pass hands an order out once its last row has gone by (more passes only
//! when more orders are open at once than the limits allow). The input must
//! therefore be seekable: a regular file, not a pipe. The orders format is
//! read once and can come from anywhere.

use std::{
    borrow::Cow,
    fs::File,
    io::{Read, Seek},
    mem,
    path::Path,
};

use csv::ByteRecord;

use super::{
    chunk::{Chunk, ImportError, ImportStats, StreamOptions},
    fields::{self, Invalid},
    format::{Format, HeaderError, Layout, ITEMS_COLUMNS, ORDERS_COLUMNS},
    grouper::{Added, GroupLimits, Grouper, Output, RowIn},
    items_row, orders_row,
    parsed::{Reject, Warning},
    recent::RecentIds,
    records::{self, RawRecord, RecordReader},
    spans::{key_of, Spans},
};

/// Rejected text held before a chunk is handed out anyway.
const MAX_PENDING_REJECT_BYTES: usize = 1 << 20;
/// Text of an over-long row kept in the rejects file.
const OVERSIZED_RAW_CHARS: usize = 200;

struct Items {
    spans: Spans,
    grouper: Grouper,
    /// 0 before the first pass; 1 for the first grouping pass (which counts
    /// rows and rejects rows of no order); more when orders were put off.
    pass: u32,
    /// Offset and line of the first data row.
    data_start: (u64, u64),
    /// Bytes the first pass read: later passes stop there.
    end: u64,
}

enum Mode {
    Orders { seen: RecentIds },
    Items(Box<Items>),
}

/// Reads an order file chunk by chunk (also an `Iterator` of chunks).
pub struct OrderStream<R: Read> {
    reader: RecordReader<R>,
    rec: RawRecord,
    layout: Layout,
    mode: Mode,
    options: StreamOptions,
    currency: String,
    out: Output,
    warnings: Vec<Warning>,
    reject_bytes: usize,
    stats: ImportStats,
    eof: bool,
}

impl OrderStream<File> {
    /// Opens `path` and reads its header.
    ///
    /// # Errors
    /// Unopenable file, bad header, bad default currency, items format
    /// from something that is not a regular file.
    pub fn open(path: &Path, options: StreamOptions) -> Result<Self, ImportError> {
        let file = File::open(path).map_err(|source| ImportError::Open {
            path: path.display().to_string(),
            source,
        })?;
        let regular = file.metadata().is_ok_and(|m| m.is_file());
        let stream = Self::new(file, options)?;
        if stream.format() == Format::Items && !regular {
            return Err(ImportError::NotSeekable);
        }
        Ok(stream)
    }
}

impl<R: Read + Seek> OrderStream<R> {
    /// Reads the header from `input` and detects the format.
    ///
    /// # Errors
    /// Empty, over-long or unknown header, read failure, bad default
    /// currency, items format from an input that cannot seek.
    pub fn new(input: R, options: StreamOptions) -> Result<Self, ImportError> {
        let currency = options.default_currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(ImportError::DefaultCurrency(options.default_currency));
        }
        let mut reader = RecordReader::new(input, options.max_line_bytes);
        let mut rec = RawRecord::default();
        let has_header = reader
            .read_head(&mut rec)
            .map_err(|source| ImportError::Read { line: 1, source })?;
        if !has_header {
            return Err(HeaderError::Empty.into());
        }
        if rec.oversized {
            return Err(HeaderError::TooLong(options.max_line_bytes).into());
        }
        let layout = Layout::detect(&rec.record)?;
        let mode = match layout.format() {
            Format::Orders => Mode::Orders {
                seen: RecentIds::new(options.recent_ids),
            },
            Format::Items => {
                if !records::seekable(reader.get_mut()) {
                    return Err(ImportError::NotSeekable);
                }
                Mode::Items(Box::new(Items {
                    spans: Spans::default(),
                    grouper: Grouper::new(GroupLimits {
                        max_open_orders: options.max_open_orders,
                        max_open_items: options.max_open_items,
                        max_items_per_order: options.max_items_per_order,
                    }),
                    pass: 0,
                    data_start: (reader.position(), reader.line()),
                    end: u64::MAX,
                }))
            }
        };
        Ok(Self {
            reader,
            rec,
            layout,
            mode,
            options: StreamOptions {
                chunk_size: options.chunk_size.max(1),
                ..options
            },
            currency,
            out: Output::default(),
            warnings: Vec::new(),
            reject_bytes: 0,
            stats: ImportStats::default(),
            eof: false,
        })
    }

    /// The detected format.
    #[must_use]
    pub fn format(&self) -> Format {
        self.layout.format()
    }

    /// Counts so far (orders count only those already handed out).
    #[must_use]
    pub fn stats(&self) -> ImportStats {
        ImportStats {
            bytes_read: self.reader.position(),
            ..self.stats
        }
    }

    /// The next chunk, or `None` at the end of the file.
    ///
    /// # Errors
    /// An I/O error while reading, or the file changed between two passes;
    /// the stream then ends.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>, ImportError> {
        loop {
            let chunk_size = self.options.chunk_size;
            let full = self.out.orders.len() >= chunk_size
                || self.out.rejects.len() + self.warnings.len() >= chunk_size
                || self.reject_bytes >= MAX_PENDING_REJECT_BYTES;
            let empty = self.out.orders.is_empty()
                && self.out.rejects.is_empty()
                && self.warnings.is_empty();
            if full || (self.eof && !empty) {
                return Ok(Some(self.take_chunk()));
            }
            if self.eof {
                return Ok(None);
            }
            if let Mode::Items(items) = &mut self.mode {
                if items.pass == 0 {
                    let result = Self::first_pass(
                        &mut self.reader,
                        &mut self.rec,
                        &self.layout,
                        &self.options,
                        items,
                    );
                    if let Err(e) = result {
                        self.eof = true;
                        return Err(e);
                    }
                    continue;
                }
            }
            let read = self.reader.read(&mut self.rec);
            let more = match read {
                Ok(more) => more,
                Err(source) => {
                    self.eof = true;
                    let line = self.reader.line();
                    return Err(ImportError::Read { line, source });
                }
            };
            let result = match &self.mode {
                Mode::Items(items) if !more || self.rec.start >= items.end => self.end_pass(),
                _ if !more => {
                    self.eof = true;
                    Ok(())
                }
                _ => self.process_record(),
            };
            if let Err(e) = result {
                self.eof = true;
                return Err(e);
            }
        }
    }

    /// Items format: where does each order end?
    fn first_pass(
        reader: &mut RecordReader<R>,
        rec: &mut RawRecord,
        layout: &Layout,
        options: &StreamOptions,
        items: &mut Items,
    ) -> Result<(), ImportError> {
        loop {
            let more = reader.read(rec).map_err(|source| ImportError::Read {
                line: reader.line(),
                source,
            })?;
            if !more {
                break;
            }
            if let Some(id) = order_id(&rec.record, layout, options.max_id_chars) {
                items
                    .spans
                    .record(key_of(id), rec.line)
                    .map_err(|too_far| ImportError::TooManyLines(too_far.0))?;
            }
        }
        items.spans.seal();
        items.end = reader.position();
        let (offset, line) = items.data_start;
        reader
            .seek_to(offset, line)
            .map_err(|_| ImportError::NotSeekable)?;
        items.pass = 1;
        Ok(())
    }

    /// Items format: the end of a grouping pass; another one if orders were
    /// put off.
    fn end_pass(&mut self) -> Result<(), ImportError> {
        let Mode::Items(items) = &mut self.mode else {
            return Ok(());
        };
        if items.grouper.open_orders() > 0 {
            return Err(ImportError::Changed(format!(
                "{} orders' last rows were no longer there",
                items.grouper.open_orders()
            )));
        }
        match items.grouper.end_pass() {
            Some((offset, line)) => {
                items.spans.clear_deferred();
                items.pass += 1;
                self.reader
                    .seek_to(offset, line)
                    .map_err(|_| ImportError::NotSeekable)?;
            }
            None => self.eof = true,
        }
        Ok(())
    }

    fn take_chunk(&mut self) -> Chunk {
        let chunk_size = self.options.chunk_size;
        let rest = if self.out.orders.len() > chunk_size {
            self.out.orders.split_off(chunk_size)
        } else {
            Vec::new()
        };
        let orders = mem::replace(&mut self.out.orders, rest);
        let rejects = mem::take(&mut self.out.rejects);
        let warnings = mem::take(&mut self.warnings);
        self.reject_bytes = 0;
        self.stats.orders += orders.len() as u64;
        self.stats.rejected_rows += rejects.len() as u64;
        Chunk {
            orders,
            rejects,
            warnings,
            stats: self.stats(),
        }
    }

    fn process_record(&mut self) -> Result<(), ImportError> {
        let line = self.rec.line;
        let rejects_before = self.out.rejects.len();
        match &mut self.mode {
            Mode::Orders { seen } => {
                self.stats.rows_read += 1;
                match parse_orders_row(&self.rec, &self.layout, &self.options, &self.currency, seen)
                {
                    Ok((order, warning)) => {
                        if let Some(warning) = warning {
                            self.stats.warnings += 1;
                            self.warnings.push(warning);
                        }
                        self.out.orders.push(order);
                    }
                    Err(invalid) => self.out.rejects.push(reject(&self.rec, invalid)),
                }
            }
            Mode::Items(items) => {
                let first = items.pass == 1;
                if first {
                    self.stats.rows_read += 1;
                }
                match order_id(&self.rec.record, &self.layout, self.options.max_id_chars) {
                    // A row of no order can only be rejected alone, once.
                    None => {
                        if first {
                            let invalid = items_row(&self.rec, &self.layout, &self.options)
                                .err()
                                .unwrap_or_else(|| {
                                    Invalid::new(
                                        "external_order_id",
                                        "external_order_id is missing",
                                    )
                                });
                            self.out.rejects.push(reject(&self.rec, invalid));
                        }
                    }
                    Some(id) => {
                        let raw = raw_text(&self.rec);
                        let input = RowIn {
                            order_id: id,
                            row: items_row(&self.rec, &self.layout, &self.options),
                            line,
                            offset: self.rec.start,
                            raw: &raw,
                        };
                        if items.grouper.add(&mut items.spans, input, &mut self.out)
                            == Added::Unknown
                        {
                            return Err(ImportError::Changed(format!(
                                "order {id} at line {line} was not in the file before"
                            )));
                        }
                    }
                }
            }
        }
        self.reject_bytes += self.out.rejects[rejects_before..]
            .iter()
            .map(|r| r.raw.len() + r.reason.len())
            .sum::<usize>();
        Ok(())
    }
}

impl<R: Read + Seek> Iterator for OrderStream<R> {
    type Item = Result<Chunk, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_chunk().transpose()
    }
}

/// The order a row belongs to: its id cell, when present, not blank and
/// within the cap. The same answer in every pass (it depends on the row
/// alone), so the passes agree on which rows make an order.
fn order_id<'r>(record: &'r ByteRecord, layout: &Layout, max_id_chars: usize) -> Option<&'r str> {
    let at = layout.position(0);
    let id = fields::id(record, at, ITEMS_COLUMNS[0]).ok()?;
    fields::check_length(id, ITEMS_COLUMNS[0], max_id_chars).ok()?;
    Some(id)
}

/// Checks shared by both formats: the row's length and cell count.
fn check_shape(rec: &RawRecord, layout: &Layout, options: &StreamOptions) -> Result<(), Invalid> {
    if rec.oversized {
        let reason = format!(
            "line is longer than {} bytes (settings.import.max_line_bytes): {} bytes",
            options.max_line_bytes, rec.len
        );
        return Err(Invalid::new("row", reason));
    }
    if rec.record.len() != layout.width() {
        let reason = format!(
            "expected {} cells, found {}",
            layout.width(),
            rec.record.len()
        );
        return Err(Invalid::new("row", reason));
    }
    Ok(())
}

/// Each required cell within its cap (ids and other text have their own).
fn check_cells(
    record: &ByteRecord,
    layout: &Layout,
    columns: &[&'static str],
    ids: &[usize],
    unlimited: Option<usize>,
    options: &StreamOptions,
) -> Result<(), Invalid> {
    for (column, name) in columns.iter().enumerate() {
        if Some(column) == unlimited {
            continue;
        }
        let max = if ids.contains(&column) {
            options.max_id_chars
        } else {
            options.max_field_chars
        };
        let cell = record.get(layout.position(column)).unwrap_or_default();
        // Fast path: never longer in characters than in bytes.
        if cell.len() > max {
            fields::check_length(&String::from_utf8_lossy(cell), name, max)?;
        }
    }
    Ok(())
}

fn items_row<'r>(
    rec: &'r RawRecord,
    layout: &Layout,
    options: &StreamOptions,
) -> Result<items_row::ItemRow<'r>, Invalid> {
    check_shape(rec, layout, options)?;
    // external_order_id, customer_id, product_sku are ids.
    check_cells(
        &rec.record,
        layout,
        &ITEMS_COLUMNS,
        &[0, 3, 6],
        None,
        options,
    )?;
    items_row::parse(&rec.record, layout)
}

fn parse_orders_row(
    rec: &RawRecord,
    layout: &Layout,
    options: &StreamOptions,
    currency: &str,
    seen: &mut RecentIds,
) -> Result<(super::parsed::ParsedOrder, Option<Warning>), Invalid> {
    check_shape(rec, layout, options)?;
    // order_id and customer_id are ids; the items JSON is bounded by the
    // line cap, its product names by the field cap (in `orders_row`).
    check_cells(
        &rec.record,
        layout,
        &ORDERS_COLUMNS,
        &[0, 1],
        Some(3),
        options,
    )?;
    let (order, warning) = orders_row::parse(
        &rec.record,
        layout,
        rec.line,
        currency,
        options.max_field_chars,
    )?;
    if let Some(first) = seen.get(&order.external_id) {
        let reason = format!(
            "duplicate order id {} (first seen at line {first})",
            order.external_id
        );
        return Err(Invalid::new("order_id", reason));
    }
    seen.insert(&order.external_id, rec.line);
    Ok((order, warning))
}

fn reject(rec: &RawRecord, invalid: Invalid) -> Reject {
    Reject {
        line: rec.line,
        column: invalid.column,
        reason: invalid.reason,
        raw: raw_text(rec).into_owned(),
    }
}

/// The row as it stands in the file (an over-long one shortened).
fn raw_text(rec: &RawRecord) -> Cow<'_, str> {
    let text = String::from_utf8_lossy(&rec.raw);
    if !rec.oversized {
        return text;
    }
    let mut short: String = text.chars().take(OVERSIZED_RAW_CHARS).collect();
    short.push('…');
    Cow::Owned(short)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn options(chunk_size: usize) -> StreamOptions {
        StreamOptions {
            chunk_size,
            ..StreamOptions::default()
        }
    }

    #[test]
    fn rejects_alone_fill_chunks_so_memory_stays_bounded() {
        let mut text = String::from("order_id,customer_id,total,items\n");
        for _ in 0..10 {
            text.push_str("O,1\n");
        }
        let stream = OrderStream::new(Cursor::new(text), options(4)).unwrap();
        let sizes: Vec<(usize, usize)> = stream
            .map(|c| c.map(|c| (c.orders.len(), c.rejects.len())).unwrap())
            .collect();
        assert_eq!(sizes, [(0, 4), (0, 4), (0, 2)]);
    }

    #[test]
    fn flushed_groups_are_split_to_chunk_size() {
        let header = ITEMS_COLUMNS.join(",");
        let mut text = format!("{header}\n");
        for n in 0..5 {
            text.push_str(&format!("O{n},2025-10-27 16:12:00,EUR,C,,,S,N,1,1\n"));
        }
        let stream = OrderStream::new(Cursor::new(text), options(2)).unwrap();
        let sizes: Vec<usize> = stream.map(|c| c.unwrap().orders.len()).collect();
        assert_eq!(sizes, [2, 2, 1]);
    }
}
