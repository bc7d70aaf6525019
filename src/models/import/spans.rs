//! Where each order of an items-format file ends: the first pass's result.
//!
//! The first pass records, per order id, the line of its last row, keyed by a
//! 64-bit hash of the id. The table is a sorted array of 12-byte entries
//! (hash, last line) with a small index by the hash's top bits: about 12 MB
//! at 1,000,000 orders, whatever the ids' length, where a hash map took 36 MB
//! and pushed the import task past its 150 MB bound. While the first pass
//! runs, rows are appended (consecutive rows of one order share an entry)
//! and the array is sorted and merged in place whenever it fills, so it never
//! holds many more entries than there are orders.
//!
//! Two ids that share a hash share an entry holding the later of their last
//! lines, and the second pass treats them as one group: a collision can only
//! make an order wait for the other's last row, never flush it before its own.
//!
//! Two bitsets beside the array are the second pass's bookkeeping: the group
//! was written (or rejected) in an earlier pass, or was put off to the next
//! pass in this one because too many orders were open (see `grouper`).

/// One order's end: its id hash, split so the entry packs into 12 bytes.
#[derive(Debug, Clone, Copy)]
struct End {
    key_high: u32,
    key_low: u32,
    line: u32,
}

impl End {
    fn new(key: u64, line: u32) -> Self {
        #[allow(clippy::cast_possible_truncation)] // the halves of the key
        Self {
            key_high: (key >> 32) as u32,
            key_low: key as u32,
            line,
        }
    }

    fn key(&self) -> u64 {
        (u64::from(self.key_high) << 32) | u64::from(self.key_low)
    }
}

/// Below this many entries the array just grows; above, it is merged first.
const MERGE_FROM: usize = 4096;

/// The last line the table can hold (lines are 1-based `u32`s).
pub const MAX_LINE: u64 = u32::MAX as u64;

/// Order-id hash → last line, and the second pass's two flags.
#[derive(Debug, Default)]
pub struct Spans {
    /// Unsorted while recording; sorted by key with one entry per key once
    /// sealed.
    ends: Vec<End>,
    /// The key of the entry last appended, while it is still the last one.
    appended: Option<u64>,
    /// `index[b]..index[b + 1]` are the entries whose key's top `bits` bits
    /// are `b`.
    index: Vec<u32>,
    bits: u32,
    done: Bits,
    deferred: Bits,
    sealed: bool,
}

/// The line is past [`MAX_LINE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTooFar(pub u64);

/// What the second pass does with a row of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    /// Never seen in the first pass: the file changed in between.
    Unknown,
    /// Written or rejected in an earlier pass: skip the row.
    Done,
    /// Put off to a later pass: skip the row.
    Deferred,
    /// Still to do; its last row is at this line.
    Open(u64),
}

impl Spans {
    /// Records a row of `key` at `line` (lines only grow in the first pass).
    ///
    /// # Errors
    /// The line is past [`MAX_LINE`].
    pub fn record(&mut self, key: u64, line: u64) -> Result<(), LineTooFar> {
        debug_assert!(!self.sealed, "record after seal");
        let line = u32::try_from(line).map_err(|_| LineTooFar(line))?;
        if self.appended == Some(key) {
            if let Some(last) = self.ends.last_mut() {
                last.line = last.line.max(line);
                return Ok(());
            }
        }
        if self.ends.len() == self.ends.capacity() && self.ends.len() >= MERGE_FROM {
            self.merge();
            // Grow only when merging freed less than half: amortised O(1).
            if self.ends.len() * 2 > self.ends.capacity() {
                self.ends.reserve_exact(self.ends.capacity());
            }
        }
        self.ends.push(End::new(key, line));
        self.appended = Some(key);
        Ok(())
    }

    /// Sorts by key, one entry per key holding the latest line.
    fn merge(&mut self) {
        self.ends
            .sort_unstable_by_key(|end| (end.key_high, end.key_low));
        self.ends.dedup_by(|later, kept| {
            if later.key() == kept.key() {
                kept.line = kept.line.max(later.line);
                true
            } else {
                false
            }
        });
        self.appended = None;
    }

    /// Ends the first pass: the table is sorted, indexed and ready for
    /// [`Spans::state`].
    pub fn seal(&mut self) {
        self.merge();
        self.ends.shrink_to_fit();
        let n = self.ends.len();
        // About eight entries per index bucket, at most 2^20 buckets (4 MB).
        self.bits = n.max(1).ilog2().saturating_sub(3).min(20);
        let buckets = 1usize << self.bits;
        self.index = vec![0; buckets + 1];
        for end in &self.ends {
            self.index[bucket(self.bits, end.key()) + 1] += 1;
        }
        for b in 0..buckets {
            self.index[b + 1] += self.index[b];
        }
        self.done = Bits::new(n);
        self.deferred = Bits::new(n);
        self.sealed = true;
    }

    fn find(&self, key: u64) -> Option<usize> {
        debug_assert!(self.sealed, "lookup before seal");
        let b = bucket(self.bits, key);
        let (from, to) = (*self.index.get(b)? as usize, self.index[b + 1] as usize);
        self.ends[from..to]
            .binary_search_by_key(&key, End::key)
            .ok()
            .map(|i| from + i)
    }

    /// The group's state.
    #[must_use]
    pub fn state(&self, key: u64) -> GroupState {
        match self.find(key) {
            None => GroupState::Unknown,
            Some(i) if self.done.get(i) => GroupState::Done,
            Some(i) if self.deferred.get(i) => GroupState::Deferred,
            Some(i) => GroupState::Open(u64::from(self.ends[i].line)),
        }
    }

    /// The group is written (or rejected): later passes skip it.
    pub fn mark_done(&mut self, key: u64) {
        if let Some(i) = self.find(key) {
            self.done.set(i);
        }
    }

    /// The group waits for the next pass.
    pub fn mark_deferred(&mut self, key: u64) {
        if let Some(i) = self.find(key) {
            self.deferred.set(i);
        }
    }

    /// Starts another pass: deferred groups become open again.
    pub fn clear_deferred(&mut self) {
        self.deferred.clear();
    }

    /// Distinct order-id hashes seen (once sealed).
    #[must_use]
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when no order was seen.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes the table holds on the heap.
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        self.ends.capacity() * std::mem::size_of::<End>()
            + self.index.capacity() * 4
            + self.done.heap_bytes()
            + self.deferred.heap_bytes()
    }
}

/// The index bucket of `key`: its top `bits` bits.
fn bucket(bits: u32, key: u64) -> usize {
    if bits == 0 {
        0
    } else {
        #[allow(clippy::cast_possible_truncation)] // at most 20 bits
        let b = (key >> (64 - bits)) as usize;
        b
    }
}

/// A fixed-size bitset.
#[derive(Debug, Default)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Self {
        Self(vec![0; n.div_ceil(64)])
    }

    fn get(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }

    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }

    fn clear(&mut self) {
        self.0.fill(0);
    }

    fn heap_bytes(&self) -> usize {
        self.0.capacity() * 8
    }
}

/// Stable 64-bit hash of an order id: the same hash the recent-id window uses.
pub(super) use super::recent::fingerprint as key_of;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_line_and_the_flags() {
        let mut spans = Spans::default();
        for (key, line) in [(7, 2), (7, 90), (8, 3)] {
            spans.record(key, line).unwrap();
        }
        spans.seal();
        assert_eq!(spans.state(7), GroupState::Open(90));
        assert_eq!(spans.state(9), GroupState::Unknown);
        spans.mark_deferred(7);
        spans.mark_done(8);
        assert_eq!(
            (spans.state(7), spans.state(8)),
            (GroupState::Deferred, GroupState::Done)
        );
        spans.clear_deferred();
        assert_eq!(
            (spans.state(7), spans.state(8)),
            (GroupState::Open(90), GroupState::Done)
        );
        assert_eq!(spans.len(), 2);
    }

    #[test]
    fn interleaved_rows_of_many_orders_keep_each_order_s_last_line() {
        // 200,000 orders of three rows each, the rows of an order far apart
        // (order k at lines k, k + n, k + 2n): every merge sees every order.
        let n = 200_000u64;
        let mut spans = Spans::default();
        for round in 0..3 {
            for k in 0..n {
                spans
                    .record(key_of(&format!("ORD-{k}")), round * n + k + 2)
                    .unwrap();
            }
        }
        spans.seal();
        assert_eq!(spans.len(), 200_000);
        for k in (0..n).step_by(997) {
            assert_eq!(
                spans.state(key_of(&format!("ORD-{k}"))),
                GroupState::Open(2 * n + k + 2)
            );
        }
        assert_eq!(spans.state(key_of("ORD-200000")), GroupState::Unknown);
        // 12 bytes an order, the index and the flags: well under 20 bytes.
        assert!(spans.heap_bytes() < 20 * 200_000, "{}", spans.heap_bytes());
    }

    #[test]
    fn a_line_past_the_table_s_range_is_refused() {
        let mut spans = Spans::default();
        assert_eq!(spans.record(1, MAX_LINE), Ok(()));
        assert_eq!(spans.record(1, MAX_LINE + 1), Err(LineTooFar(MAX_LINE + 1)));
    }

    #[test]
    fn an_empty_table_knows_nothing() {
        let mut spans = Spans::default();
        spans.seal();
        assert!(spans.is_empty());
        assert_eq!(spans.state(5), GroupState::Unknown);
    }

    #[test]
    fn keys_are_stable() {
        assert_eq!(key_of("ORD-1"), key_of("ORD-1"));
        assert_ne!(key_of("ORD-1"), key_of("ORD-2"));
    }
}
