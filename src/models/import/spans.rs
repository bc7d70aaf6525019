//! Where each order of an items-format file ends: the first pass's result.
//!
//! The first pass records, per order id, the line of its last row, keyed by a
//! 64-bit hash of the id (16 bytes an order plus the table's slack: about
//! 36 MB at 1,000,000 orders, whatever the ids' length). Two ids that share
//! a hash share an entry holding the later of their last lines, and the
//! second pass treats them as one group: a collision can only make an order
//! wait for the other's last row, never flush it before its own.
//!
//! The two top bits of an entry are the second pass's bookkeeping: the group
//! was written (or rejected) in an earlier pass, or was put off to the next
//! pass in this one because too many orders were open (see `grouper`).

use std::{collections::HashMap, hash::BuildHasherDefault};

use super::recent::PreHashed;

const DONE: u64 = 1 << 63;
const DEFERRED: u64 = 1 << 62;
const LINE: u64 = DEFERRED - 1;

/// Order-id hash → last line (and the two flags).
#[derive(Debug, Default)]
pub struct Spans {
    last: HashMap<u64, u64, BuildHasherDefault<PreHashed>>,
}

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
    pub fn record(&mut self, key: u64, line: u64) {
        let line = line.min(LINE);
        let entry = self.last.entry(key).or_insert(line);
        *entry = (*entry).max(line);
    }

    /// The group's state.
    #[must_use]
    pub fn state(&self, key: u64) -> GroupState {
        match self.last.get(&key) {
            None => GroupState::Unknown,
            Some(&v) if v & DONE != 0 => GroupState::Done,
            Some(&v) if v & DEFERRED != 0 => GroupState::Deferred,
            Some(&v) => GroupState::Open(v & LINE),
        }
    }

    /// The group is written (or rejected): later passes skip it.
    pub fn mark_done(&mut self, key: u64) {
        if let Some(v) = self.last.get_mut(&key) {
            *v |= DONE;
        }
    }

    /// The group waits for the next pass.
    pub fn mark_deferred(&mut self, key: u64) {
        if let Some(v) = self.last.get_mut(&key) {
            *v |= DEFERRED;
        }
    }

    /// Starts another pass: deferred groups become open again.
    pub fn clear_deferred(&mut self) {
        for v in self.last.values_mut() {
            *v &= !DEFERRED;
        }
    }

    /// Distinct order-id hashes seen.
    #[must_use]
    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// True when no order was seen.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
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
        spans.record(7, 2);
        spans.record(7, 90);
        spans.record(8, 3);
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
    fn keys_are_stable() {
        assert_eq!(key_of("ORD-1"), key_of("ORD-1"));
        assert_ne!(key_of("ORD-1"), key_of("ORD-2"));
    }
}
