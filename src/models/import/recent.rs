//! A bounded memory of the most recently finished order ids.
//!
//! Remembering every id of a file would grow with the file, so only the last
//! `capacity` ids are kept, as 64-bit hashes (16 bytes each plus table
//! overhead: about 13 MB for the default 262,144). An id older than that is
//! forgotten; the database's unique order id is the backstop for those.
//! Two different ids share a hash with probability ~2^-64 per lookup.

use std::{
    collections::{HashMap, VecDeque},
    hash::{BuildHasherDefault, DefaultHasher, Hash, Hasher},
};

/// Recently finished ids and the line each one started at.
#[derive(Debug)]
pub struct RecentIds {
    capacity: usize,
    fifo: VecDeque<u64>,
    lines: HashMap<u64, u64, BuildHasherDefault<PreHashed>>,
}

impl RecentIds {
    /// Remembers at most `capacity` ids (0 disables the memory).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            fifo: VecDeque::new(),
            lines: HashMap::default(),
        }
    }

    /// The line recorded for `id`, if it is still remembered.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<u64> {
        self.lines.get(&fingerprint(id)).copied()
    }

    /// Records `id`, forgetting the oldest id when full.
    pub fn insert(&mut self, id: &str, line: u64) {
        if self.capacity == 0 {
            return;
        }
        let key = fingerprint(id);
        // A re-inserted id keeps its old FIFO slot: it is forgotten a bit
        // early rather than leaving a stale slot that would evict it later.
        if self.lines.insert(key, line).is_some() {
            return;
        }
        if self.fifo.len() == self.capacity {
            if let Some(oldest) = self.fifo.pop_front() {
                self.lines.remove(&oldest);
            }
        }
        self.fifo.push_back(key);
    }

    /// Number of ids remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// True when nothing is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// Stable 64-bit hash of an id (SipHash with fixed keys: same in every run).
pub(super) fn fingerprint(id: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    id.hash(&mut hasher);
    hasher.finish()
}

/// Keys are already uniform hashes: use them as they are.
#[derive(Debug, Default)]
pub(super) struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed here; fold anything else in defensively.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_only_the_last_capacity_ids() {
        let mut recent = RecentIds::new(2);
        recent.insert("a", 2);
        recent.insert("b", 3);
        assert_eq!((recent.get("a"), recent.get("b")), (Some(2), Some(3)));
        recent.insert("c", 4);
        assert_eq!(recent.get("a"), None);
        assert_eq!(
            (recent.get("b"), recent.get("c"), recent.len()),
            (Some(3), Some(4), 2)
        );
    }

    #[test]
    fn reinsert_updates_without_growing() {
        let mut recent = RecentIds::new(2);
        recent.insert("a", 2);
        recent.insert("a", 9);
        assert_eq!((recent.get("a"), recent.len()), (Some(9), 1));
        recent.insert("b", 3);
        recent.insert("c", 4);
        assert_eq!(recent.get("a"), None);
        assert_eq!(recent.len(), 2);
    }

    #[test]
    fn zero_capacity_remembers_nothing() {
        let mut recent = RecentIds::new(0);
        recent.insert("a", 2);
        assert!(recent.is_empty());
        assert_eq!(recent.get("a"), None);
    }
}
