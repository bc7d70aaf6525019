//! Streams an order file into chunks of parsed orders, rejects and warnings.
//!
//! Memory is bounded by the options, never by the file: one reused
//! `ByteRecord`, at most `chunk_size` finished orders and `chunk_size`
//! rejects/warnings, the grouper's open orders (items format) and the
//! recent-id window.

use std::{fs::File, io::Read, mem, path::Path};

use csv::{ByteRecord, ReaderBuilder};

use super::{
    chunk::{Chunk, ImportError, ImportStats, StreamOptions},
    fields::Invalid,
    format::{Format, HeaderError, Layout},
    grouper::{GroupLimits, Grouper},
    items_row,
    lines::LineTracked,
    model::Reject,
    orders_row,
    recent::RecentIds,
};

enum Mode {
    Orders { seen: RecentIds },
    Items(Grouper),
}

/// Reads an order file chunk by chunk (also an `Iterator` of chunks).
pub struct OrderStream<R: Read> {
    reader: csv::Reader<LineTracked<R>>,
    record: ByteRecord,
    layout: Layout,
    mode: Mode,
    chunk_size: usize,
    currency: String,
    pending: Chunk,
    stats: ImportStats,
    eof: bool,
}

impl OrderStream<File> {
    /// Opens `path` and reads its header.
    ///
    /// # Errors
    /// Unopenable file, bad header, bad default currency.
    pub fn open(path: &Path, options: StreamOptions) -> Result<Self, ImportError> {
        let file = File::open(path).map_err(|source| ImportError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Self::new(file, options)
    }
}

impl<R: Read> OrderStream<R> {
    /// Reads the header from `input` and detects the format.
    ///
    /// # Errors
    /// Empty or unknown header, read failure, bad default currency.
    pub fn new(input: R, options: StreamOptions) -> Result<Self, ImportError> {
        let currency = options.default_currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(ImportError::DefaultCurrency(options.default_currency));
        }
        let mut reader = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(1 << 16)
            .from_reader(LineTracked::new(input));
        let mut record = ByteRecord::new();
        let has_header = reader
            .read_byte_record(&mut record)
            .map_err(|source| ImportError::Read { line: 1, source })?;
        if !has_header {
            return Err(HeaderError::Empty.into());
        }
        let layout = Layout::detect(&record)?;
        let mode = match layout.format() {
            Format::Orders => Mode::Orders {
                seen: RecentIds::new(options.recent_ids),
            },
            Format::Items => Mode::Items(Grouper::new(GroupLimits {
                max_open_orders: options.max_open_orders,
                max_open_items: options.max_open_items,
                max_items_per_order: options.max_items_per_order,
                recent_ids: options.recent_ids,
            })),
        };
        Ok(Self {
            reader,
            record,
            layout,
            mode,
            chunk_size: options.chunk_size.max(1),
            currency,
            pending: Chunk::default(),
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
            bytes_read: self.reader.position().byte(),
            ..self.stats
        }
    }

    /// The next chunk, or `None` at the end of the file.
    ///
    /// # Errors
    /// An I/O error while reading; the stream then ends.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>, ImportError> {
        loop {
            let pending = &self.pending;
            let full = pending.orders.len() >= self.chunk_size
                || pending.rejects.len() + pending.warnings.len() >= self.chunk_size;
            if full || (self.eof && !pending.is_empty()) {
                return Ok(Some(self.take_chunk()));
            }
            if self.eof {
                return Ok(None);
            }
            match self.reader.read_byte_record(&mut self.record) {
                Ok(true) => self.process_record(),
                Ok(false) => {
                    self.eof = true;
                    if let Mode::Items(grouper) = &mut self.mode {
                        grouper.finish(&mut self.pending.orders);
                    }
                }
                Err(source) => {
                    self.eof = true;
                    let at = self.reader.position().byte();
                    let line = self.reader.get_mut().line_of_record(at);
                    return Err(ImportError::Read { line, source });
                }
            }
        }
    }

    fn take_chunk(&mut self) -> Chunk {
        let rest = if self.pending.orders.len() > self.chunk_size {
            self.pending.orders.split_off(self.chunk_size)
        } else {
            Vec::new()
        };
        let mut chunk = mem::take(&mut self.pending);
        self.pending.orders = rest;
        self.stats.orders += chunk.orders.len() as u64;
        chunk.stats = self.stats();
        chunk
    }

    fn process_record(&mut self) {
        self.stats.rows_read += 1;
        let start = self.record.position().map_or(0, csv::Position::byte);
        let line = self.reader.get_mut().line_of_record(start);
        if let Err(invalid) = self.parse_record(line) {
            self.reject(line, invalid);
        }
    }

    fn parse_record(&mut self, line: u64) -> Result<(), Invalid> {
        let record = &self.record;
        if record.len() != self.layout.width() {
            let reason = format!(
                "expected {} cells, found {}",
                self.layout.width(),
                record.len()
            );
            return Err(Invalid::new("row", reason));
        }
        match &mut self.mode {
            Mode::Orders { seen } => {
                let (order, warning) =
                    orders_row::parse(record, &self.layout, line, &self.currency)?;
                if let Some(first) = seen.get(&order.external_id) {
                    let reason = format!(
                        "duplicate order id {} (first seen at line {first})",
                        order.external_id
                    );
                    return Err(Invalid::new("order_id", reason));
                }
                seen.insert(&order.external_id, line);
                if let Some(warning) = warning {
                    self.stats.warnings += 1;
                    self.pending.warnings.push(warning);
                }
                self.pending.orders.push(order);
            }
            Mode::Items(grouper) => {
                let row = items_row::parse(record, &self.layout)?;
                grouper.add(&row, line, &mut self.pending.orders)?;
            }
        }
        Ok(())
    }

    fn reject(&mut self, line: u64, invalid: Invalid) {
        self.stats.rejected_rows += 1;
        self.pending.rejects.push(Reject {
            line,
            column: invalid.column,
            reason: invalid.reason,
            raw: raw_row(&self.record),
        });
    }
}

impl<R: Read> Iterator for OrderStream<R> {
    type Item = Result<Chunk, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_chunk().transpose()
    }
}

/// The record as one CSV line (quoting normalised), for the rejects file.
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
        let stream = OrderStream::new(text.as_bytes(), options(4)).unwrap();
        let sizes: Vec<(usize, usize)> = stream
            .map(|c| c.map(|c| (c.orders.len(), c.rejects.len())).unwrap())
            .collect();
        assert_eq!(sizes, [(0, 4), (0, 4), (0, 2)]);
    }

    #[test]
    fn flushed_groups_are_split_to_chunk_size() {
        let header = super::super::format::ITEMS_COLUMNS.join(",");
        let mut text = format!("{header}\n");
        for n in 0..5 {
            text.push_str(&format!("O{n},2025-10-27 16:12:00,EUR,C,,,S,N,1,1\n"));
        }
        let stream = OrderStream::new(text.as_bytes(), options(2)).unwrap();
        let sizes: Vec<usize> = stream.map(|c| c.unwrap().orders.len()).collect();
        assert_eq!(sizes, [2, 2, 1]);
    }
}
