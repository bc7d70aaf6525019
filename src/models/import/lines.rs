//! Physical line numbers of CSV records, as an editor shows them.
//!
//! csv's `Position::line()` is wrong for CRLF files (it lags one line per
//! record: BurntSushi/rust-csv#395) and counts skipped blank lines before a
//! record as part of it. Its byte offsets are right, so this wrapper notes
//! where every CR and LF byte passes by and turns a record's start offset
//! into the line of its first visible character.

use std::{
    collections::VecDeque,
    io::{self, Read},
};

/// A reader that remembers the offsets of line-break bytes not yet looked up.
#[derive(Debug)]
pub struct LineTracked<R> {
    inner: R,
    offset: u64,
    /// (offset, is LF) of CR/LF bytes read ahead of the last lookup; bounded
    /// by csv's read-ahead buffer because every record pops what precedes it.
    breaks: VecDeque<(u64, bool)>,
    /// LF bytes before the last looked-up record.
    lf_before: u64,
}

impl<R: Read> LineTracked<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            offset: 0,
            breaks: VecDeque::new(),
            lf_before: 0,
        }
    }

    /// 1-based line of the record whose parse began at byte `start`
    /// (`ByteRecord::position().byte()`). Call with increasing offsets.
    pub fn line_of_record(&mut self, start: u64) -> u64 {
        let mut first = start;
        while let Some(&(at, is_lf)) = self.breaks.front() {
            // Breaks at the record's start are terminators of the previous
            // row or blank lines that csv skipped: the row starts after them.
            if at > first {
                break;
            }
            if at == first {
                first += 1;
            }
            self.lf_before += u64::from(is_lf);
            self.breaks.pop_front();
        }
        self.lf_before + 1
    }
}

impl<R> LineTracked<R> {
    fn note_breaks(&mut self, base: u64, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' || b == b'\r' {
                self.breaks.push_back((base + i as u64, b == b'\n'));
            }
        }
    }
}

/// True if any byte of `word` is CR or LF (classic SWAR zero-byte test).
fn has_break(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    (zero_byte(word ^ (ONES * u64::from(b'\n'))) | zero_byte(word ^ (ONES * u64::from(b'\r')))) != 0
}

impl<R: Read> Read for LineTracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut base = self.offset;
        // Eight bytes at a time: a CSV line has one break per ~100 bytes.
        let mut words = buf[..n].chunks_exact(8);
        for word in &mut words {
            let bits = u64::from_le_bytes(word.try_into().unwrap_or_default());
            if has_break(bits) {
                self.note_breaks(base, word);
            }
            base += 8;
        }
        self.note_breaks(base, words.remainder());
        self.offset += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use csv::{ByteRecord, ReaderBuilder};

    use super::{super::line_cases, *};

    fn lines(text: &str) -> Vec<(String, u64)> {
        let mut reader = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(4)
            .from_reader(LineTracked::new(text.as_bytes()));
        let mut record = ByteRecord::new();
        let mut out = Vec::new();
        while reader.read_byte_record(&mut record).unwrap() {
            let start = record.position().unwrap().byte();
            let line = reader.get_mut().line_of_record(start);
            out.push((String::from_utf8_lossy(&record[0]).into_owned(), line));
        }
        out
    }

    #[test]
    fn swar_finds_breaks_in_any_byte() {
        assert!(!has_break(u64::from_le_bytes(*b"abcdefgh")));
        for i in 0..8 {
            for byte in [b'\n', b'\r'] {
                let mut word = *b"\x8a\x8d\x0b\x0c\xff\x00ab";
                word[i] = byte;
                assert!(has_break(u64::from_le_bytes(word)), "{i} {byte}");
            }
        }
        assert!(!has_break(u64::from_le_bytes(
            *b"\x8a\x8d\x0b\x0c\xff\x00\x09\x0e"
        )));
    }

    #[test]
    fn lines_are_the_physical_lines_an_editor_shows() {
        line_cases::fixed(lines);
        line_cases::random(lines);
    }
}
