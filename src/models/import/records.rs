//! CSV records with a hard cap on their length, and their physical lines.
//!
//! The `csv` crate grows its record buffer to whatever a record holds: an
//! endless line (the zero device) or a 64 MiB cell would be held whole. This
//! reader drives `csv_core` itself with fixed buffers: a record longer than
//! `max_record_bytes` keeps only the cells completed within the cap, is
//! flagged `oversized`, and the rest of it is parsed (so quotes and line
//! breaks stay in step) but thrown away. Memory is a few times the cap,
//! whatever the file holds.
//!
//! Line numbers are the physical 1-based lines an editor shows (header =
//! line 1): LF bytes before the record's first byte, blank lines and the
//! previous row's terminator skipped; right for CRLF files and multi-line
//! cells.

use std::io::{self, Read, Seek, SeekFrom};

use csv::ByteRecord;

const BUFFER: usize = 1 << 16;

/// One record as read.
#[derive(Debug, Default)]
pub struct RawRecord {
    /// The cells (only those completed within the cap when `oversized`).
    pub record: ByteRecord,
    /// 1-based physical line of the record's first byte.
    pub line: u64,
    /// Byte offset of the record's first byte.
    pub start: u64,
    /// The record's bytes as in the file, terminator excluded (at most the
    /// cap: an oversized record keeps its beginning only).
    pub raw: Vec<u8>,
    /// The record is longer than the cap.
    pub oversized: bool,
    /// Length of the record in bytes, terminator excluded.
    pub len: u64,
}

/// Reads capped records from `inner`.
pub struct RecordReader<R> {
    inner: R,
    core: csv_core::Reader,
    buf: Box<[u8]>,
    pos: usize,
    filled: usize,
    /// File offset of `buf[0]`.
    buf_offset: u64,
    /// LF bytes consumed so far.
    lf: u64,
    /// Line of offset 0 of this read (1, or where a seek put us).
    base_line: u64,
    eof: bool,
    max: usize,
    out: Vec<u8>,
    ends: Vec<usize>,
    scratch_out: Vec<u8>,
    scratch_ends: Vec<usize>,
}

impl<R: Read> RecordReader<R> {
    /// Records of `inner`, each at most `max_record_bytes` long.
    pub fn new(inner: R, max_record_bytes: usize) -> Self {
        let max = max_record_bytes.max(1);
        Self {
            inner,
            core: csv_core::Reader::new(),
            buf: vec![0; BUFFER].into_boxed_slice(),
            pos: 0,
            filled: 0,
            buf_offset: 0,
            lf: 0,
            base_line: 1,
            eof: false,
            max,
            // Output never exceeds the input fed, which is capped at max + 2.
            out: vec![0; max + 2],
            ends: vec![0; max + 3],
            scratch_out: vec![0; 4096],
            scratch_ends: vec![0; 1024],
        }
    }

    /// Bytes consumed so far (file offset of the next record's search).
    #[must_use]
    pub fn position(&self) -> u64 {
        self.buf_offset + self.pos as u64
    }

    /// Physical line at [`Self::position`] (where a later seek may return).
    #[must_use]
    pub fn line(&self) -> u64 {
        self.base_line + self.lf
    }

    /// The input.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.pos < self.filled || self.eof {
            return Ok(());
        }
        self.buf_offset += self.filled as u64;
        self.pos = 0;
        self.filled = 0;
        loop {
            match self.inner.read(&mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.filled = n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn consume(&mut self, n: usize) {
        let bytes = &self.buf[self.pos..self.pos + n];
        self.lf += bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        self.pos += n;
    }

    /// Reads the next record into `into`; `false` at the end of the input.
    ///
    /// # Errors
    /// The underlying reader failed.
    pub fn read(&mut self, into: &mut RawRecord) -> io::Result<bool> {
        self.read_record(into, true)
    }

    /// Like [`Self::read`], but stops as soon as the record is over the cap
    /// (the rest stays unread): for a header, where an over-long first line
    /// refuses the whole input, which may never end (the zero device).
    ///
    /// # Errors
    /// The underlying reader failed.
    pub fn read_head(&mut self, into: &mut RawRecord) -> io::Result<bool> {
        self.read_record(into, false)
    }

    fn read_record(&mut self, into: &mut RawRecord, skip_rest: bool) -> io::Result<bool> {
        // Skip blank lines and the previous record's terminator: the record's
        // line is that of its first visible byte.
        loop {
            self.fill()?;
            if self.pos == self.filled {
                return Ok(false);
            }
            let skip = self.buf[self.pos..self.filled]
                .iter()
                .take_while(|&&b| b == b'\n' || b == b'\r')
                .count();
            self.consume(skip);
            if self.pos < self.filled {
                break;
            }
        }
        into.line = self.base_line + self.lf;
        into.start = self.position();
        into.raw.clear();
        into.oversized = false;
        into.len = 0;
        let (mut outlen, mut endlen) = (0usize, 0usize);
        let mut kept_ends = None;
        loop {
            self.fill()?;
            if kept_ends.is_none() && into.raw.len() >= self.max + 2 {
                // Over the cap: keep the cells completed so far, discard the rest.
                kept_ends = Some((outlen, endlen));
                into.oversized = true;
                if !skip_rest {
                    break;
                }
            }
            let available = &self.buf[self.pos..self.filled];
            // Feed at most max + 2 bytes while the record is within the cap
            // (its terminator may take two), so the cap is checked exactly.
            let input = if kept_ends.is_none() {
                let room = self.max + 2 - into.raw.len();
                &available[..available.len().min(room)]
            } else {
                available
            };
            let (res, nin, nout, nend) = if kept_ends.is_none() {
                self.core
                    .read_record(input, &mut self.out[outlen..], &mut self.ends[endlen..])
            } else {
                self.core
                    .read_record(input, &mut self.scratch_out, &mut self.scratch_ends)
            };
            if kept_ends.is_none() {
                into.raw.extend_from_slice(&input[..nin]);
                outlen += nout;
                endlen += nend;
            }
            into.len += nin as u64;
            self.consume(nin);
            match res {
                csv_core::ReadRecordResult::InputEmpty => {}
                csv_core::ReadRecordResult::OutputFull
                | csv_core::ReadRecordResult::OutputEndsFull => {
                    // Only the scratch buffers can fill: they are thrown away.
                }
                csv_core::ReadRecordResult::Record | csv_core::ReadRecordResult::End => break,
            }
        }
        // The terminator is not part of the record.
        let terminator = into
            .raw
            .iter()
            .rev()
            .take_while(|&&b| b == b'\n' || b == b'\r')
            .count();
        if !into.oversized {
            into.raw.truncate(into.raw.len() - terminator);
            into.len = into.raw.len() as u64;
            if into.raw.len() > self.max {
                into.oversized = true;
                into.raw.truncate(self.max);
            }
        } else {
            into.raw.truncate(self.max);
            into.len = into.len.saturating_sub(1);
        }
        let (outlen_kept, endlen_kept) = kept_ends.unwrap_or((outlen, endlen));
        into.record.clear();
        let mut from = 0;
        for &end in &self.ends[..endlen_kept] {
            let end = end.min(outlen_kept);
            into.record.push_field(&self.out[from..end]);
            from = end;
        }
        Ok(true)
    }
}

impl<R: Read + Seek> RecordReader<R> {
    /// Continues reading at byte `offset`, which is the start of line `line`.
    ///
    /// # Errors
    /// The input cannot seek (a pipe).
    pub fn seek_to(&mut self, offset: u64, line: u64) -> io::Result<()> {
        self.inner.seek(SeekFrom::Start(offset))?;
        self.core.reset();
        self.buf_offset = offset;
        self.pos = 0;
        self.filled = 0;
        self.eof = false;
        self.lf = 0;
        self.base_line = line;
        Ok(())
    }
}

/// Whether `inner` can be read twice (a regular file can, a pipe cannot).
pub fn seekable<R: Seek>(inner: &mut R) -> bool {
    inner.stream_position().is_ok()
}

#[cfg(test)]
mod tests {
    use super::{super::line_cases, *};

    fn read_all(text: &[u8], max: usize) -> Vec<(Vec<String>, u64, bool, String)> {
        let mut reader = RecordReader::new(text, max);
        let mut rec = RawRecord::default();
        let mut out = Vec::new();
        while reader.read(&mut rec).unwrap() {
            let cells = rec
                .record
                .iter()
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            out.push((
                cells,
                rec.line,
                rec.oversized,
                String::from_utf8_lossy(&rec.raw).into_owned(),
            ));
        }
        out
    }

    fn lines(text: &str) -> Vec<(String, u64)> {
        read_all(text.as_bytes(), 1 << 16)
            .into_iter()
            .map(|(cells, line, _, _)| (cells[0].clone(), line))
            .collect()
    }

    #[test]
    fn lines_are_the_physical_lines_an_editor_shows() {
        line_cases::fixed(lines);
        line_cases::random(lines);
    }

    #[test]
    fn raw_text_is_kept_without_its_terminator() {
        let got = read_all(b"a,\"b,c\"\r\nd\n", 100);
        assert_eq!(got[0].0, ["a", "b,c"]);
        assert_eq!(got[0].3, "a,\"b,c\"");
        assert_eq!((got[1].3.as_str(), got[1].2), ("d", false));
    }

    #[test]
    fn records_over_the_cap_are_flagged_and_the_next_one_is_read() {
        let long = "x".repeat(50);
        let text = format!("id,{long},z\nnext,1\n\"open {long}\n{long}\",2\nlast\n");
        let got = read_all(text.as_bytes(), 20);
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(
            (got[0].0.clone(), got[0].1, got[0].2),
            (vec!["id".to_owned()], 1, true)
        );
        assert_eq!(got[0].3.len(), 20);
        assert_eq!(
            (got[1].0.clone(), got[1].1, got[1].2),
            (vec!["next".to_owned(), "1".to_owned()], 2, false)
        );
        // A quoted cell spanning lines is one record, over the cap.
        assert_eq!((got[2].1, got[2].2), (3, true));
        assert!(got[2].0.is_empty());
        assert_eq!(
            (got[3].0[0].as_str(), got[3].1, got[3].2),
            ("last", 5, false)
        );
        // Exactly at the cap is fine, CRLF or not.
        let exact = format!("{}\r\n{}\n", "a".repeat(20), "b".repeat(21));
        let got = read_all(exact.as_bytes(), 20);
        assert_eq!((got[0].2, got[1].2), (false, true));
    }

    #[test]
    fn an_endless_line_is_read_in_bounded_memory() {
        // 8 MiB of zero bytes, no line break, then one more record.
        let mut text = vec![0u8; 8 << 20];
        text.extend_from_slice(b"\nok\n");
        let mut reader = RecordReader::new(&text[..], 1024);
        let mut rec = RawRecord::default();
        assert!(reader.read(&mut rec).unwrap());
        assert!(rec.oversized);
        assert_eq!((rec.raw.len(), rec.len), (1024, 8 << 20));
        assert!(rec.raw.capacity() < 4096);
        assert!(reader.read(&mut rec).unwrap());
        assert_eq!(
            (&rec.record[0], rec.line, rec.oversized),
            (&b"ok"[..], 2, false)
        );
        assert!(!reader.read(&mut rec).unwrap());
    }
}
