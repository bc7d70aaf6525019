//! The payloads of chunks sent and not yet committed, on disk, so that the
//! task can send a chunk again if Redis loses it.
//!
//! Chunks cannot be re-read from the file by byte range (the rows of one order
//! may stand anywhere in it), and holding them in memory would grow with the
//! backlog when nobody consumes the queue. So each encoded chunk job is
//! appended to a segment file; a segment is deleted once every chunk in it is
//! committed. With the import queue bounded (`MAX_PENDING_CHUNKS`) a few
//! segments exist at a time; the directory goes when the spool is dropped.
use std::{
    collections::BTreeMap,
    fs::{self, File},
    io::{self, Read, Seek, SeekFrom, Write},
    path::PathBuf,
};

/// A new segment starts once the current one holds this many bytes.
const SEGMENT_BYTES: u64 = 8 << 20;

/// Where one chunk's payload is.
#[derive(Debug, Clone, Copy)]
struct Entry {
    segment: u64,
    offset: u64,
    len: usize,
}

/// Chunk payloads by sequence number, in segment files under a directory of its own.
#[derive(Debug)]
pub(super) struct Spool {
    dir: PathBuf,
    entries: BTreeMap<i64, Entry>,
    /// Live entries per segment.
    live: BTreeMap<u64, usize>,
    current: u64,
    writer: Option<File>,
    written: u64,
}

impl Spool {
    /// A fresh spool in the system's temporary directory.
    ///
    /// # Errors
    /// When the directory cannot be created.
    pub(super) fn create(import_id: i64) -> io::Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "orders-flow-import-{import_id}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            entries: BTreeMap::new(),
            live: BTreeMap::new(),
            current: 0,
            writer: None,
            written: 0,
        })
    }

    fn segment_path(&self, segment: u64) -> PathBuf {
        self.dir.join(format!("{segment}.spool"))
    }

    /// Keeps `payload` as chunk `seq`.
    ///
    /// # Errors
    /// When the segment cannot be written.
    pub(super) fn put(&mut self, seq: i64, payload: &[u8]) -> io::Result<()> {
        if self.writer.is_some() && self.written >= SEGMENT_BYTES {
            self.writer = None;
            if self.live.get(&self.current).copied().unwrap_or(0) == 0 {
                let _ = fs::remove_file(self.segment_path(self.current));
            }
            self.current += 1;
            self.written = 0;
        }
        if self.writer.is_none() {
            self.writer = Some(File::create(self.segment_path(self.current))?);
        }
        if let Some(writer) = self.writer.as_mut() {
            writer.write_all(payload)?;
        }
        self.entries.insert(
            seq,
            Entry {
                segment: self.current,
                offset: self.written,
                len: payload.len(),
            },
        );
        *self.live.entry(self.current).or_default() += 1;
        self.written += payload.len() as u64;
        Ok(())
    }

    /// Chunk `seq`'s payload, if it is still kept.
    ///
    /// # Errors
    /// When the segment cannot be read.
    pub(super) fn get(&self, seq: i64) -> io::Result<Option<Vec<u8>>> {
        let Some(entry) = self.entries.get(&seq).copied() else {
            return Ok(None);
        };
        // Written through `File`, unbuffered: what is read back is complete.
        let mut file = File::open(self.segment_path(entry.segment))?;
        file.seek(SeekFrom::Start(entry.offset))?;
        let mut payload = vec![0; entry.len];
        file.read_exact(&mut payload)?;
        Ok(Some(payload))
    }

    /// Chunk `seq` is committed: its payload is no longer needed, and a
    /// segment left with none is deleted.
    pub(super) fn forget(&mut self, seq: i64) {
        let Some(entry) = self.entries.remove(&seq) else {
            return;
        };
        if let Some(live) = self.live.get_mut(&entry.segment) {
            *live = live.saturating_sub(1);
            if *live == 0 {
                self.live.remove(&entry.segment);
                if entry.segment != self.current {
                    let _ = fs::remove_file(self.segment_path(entry.segment));
                }
            }
        }
    }

    /// Segment files on disk now.
    #[cfg(test)]
    fn segments(&self) -> usize {
        fs::read_dir(&self.dir).map_or(0, Iterator::count)
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        self.writer = None;
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::Spool;

    #[test]
    fn payloads_come_back_and_committed_segments_are_deleted() {
        let mut spool = Spool::create(0).unwrap();
        let big = vec![7u8; (super::SEGMENT_BYTES / 2 + 1) as usize];
        spool.put(1, &big).unwrap();
        spool.put(2, b"second").unwrap();
        spool.put(3, &big).unwrap(); // the first segment is full after this one
        spool.put(4, b"fourth").unwrap();
        assert_eq!(spool.get(2).unwrap().as_deref(), Some(&b"second"[..]));
        assert_eq!(spool.get(4).unwrap().as_deref(), Some(&b"fourth"[..]));
        assert_eq!(spool.segments(), 2);
        for seq in 1..=3 {
            spool.forget(seq);
        }
        assert_eq!(spool.segments(), 1, "the first segment is gone");
        assert_eq!(spool.get(1).unwrap(), None);
        assert_eq!(spool.get(4).unwrap().as_deref(), Some(&b"fourth"[..]));
        let dir = spool.dir.clone();
        drop(spool);
        assert!(!dir.exists());
    }
}
