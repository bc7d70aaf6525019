//! The parser thread: reads the file, writes rejects, hands chunks over.
use std::{
    io::{Read, Seek},
    path::PathBuf,
    time::{Duration, Instant},
};

use tokio::sync::mpsc;

use super::types::ImportRunError;
use crate::models::{
    import::{Chunk, ImportStats, OrderStream, RejectsWriter},
    imports::FileCounts,
};

/// What the reader thread ends with.
pub(super) struct ReadEnd {
    /// Counts when reading stopped.
    pub(super) stats: ImportStats,
    /// Time spent reading, parsing, validating and writing rejects (not
    /// waiting for the queue).
    pub(super) parse_time: Duration,
    /// The rejects file, if any reject was written; or why reading stopped.
    pub(super) result: Result<Option<PathBuf>, ImportRunError>,
}

/// Parses the file, writes its rejects, and sends chunks (rejects removed)
/// until the end of the file, a read error, or the receiver going away.
pub(super) fn read_file<R: Read + Seek>(
    mut stream: OrderStream<R>,
    mut rejects: RejectsWriter,
    tx: &mpsc::Sender<Chunk>,
) -> ReadEnd {
    let rejects_error = |rejects: &RejectsWriter, source| ImportRunError::Rejects {
        path: rejects.path().display().to_string(),
        source,
    };
    let mut parse_time = Duration::ZERO;
    let failure = loop {
        let started = Instant::now();
        let next = stream.next_chunk();
        match next {
            Ok(Some(mut chunk)) => {
                if let Err(e) = rejects.write_all(&chunk.rejects) {
                    break rejects_error(&rejects, e);
                }
                chunk.rejects = Vec::new();
                // Time blocked below is the queue's, not the parser's.
                parse_time += started.elapsed();
                if tx.blocking_send(chunk).is_err() {
                    // The importer stopped (it reports why); nothing more to read for.
                    break ImportRunError::Stopped;
                }
            }
            Ok(None) => {
                let stats = stream.stats();
                let path = rejects.path().display().to_string();
                let result = rejects
                    .finish()
                    .map_err(|source| ImportRunError::Rejects { path, source });
                return ReadEnd {
                    stats,
                    parse_time: parse_time + started.elapsed(),
                    result,
                };
            }
            Err(e) => break ImportRunError::File(e),
        }
    };
    // Rejects found before the failure are still worth keeping.
    let _ = rejects.finish();
    ReadEnd {
        stats: stream.stats(),
        parse_time,
        result: Err(failure),
    }
}

pub(super) fn file_counts(stats: &ImportStats) -> FileCounts {
    FileCounts {
        rows_read: stats.rows_read,
        orders_read: stats.orders,
        rows_rejected: stats.rejected_rows,
        warnings: stats.warnings,
    }
}
