//! What the import run's parts share: its error, its progress events and its
//! limits. A leaf: the run (`mod.rs`) and its parts import it, it imports none of them.
use std::time::Duration;

use sea_orm::DbErr;

use crate::models::import::{ImportError, ImportStats};

/// Chunk jobs pushed per Redis call.
pub const CHUNKS_PER_PUSH: usize = 8;
/// Above this many chunks waiting in the import queue the reader pauses
/// (until half of them are taken), so Redis holds a bounded part of the file.
pub const MAX_PENDING_CHUNKS: u64 = 32;
/// Warnings kept to show the operator; the rest are only counted.
pub const WARNINGS_SHOWN: usize = 10;
/// First pause of the feeder's checks of the queue while it waits for room;
/// each further check waits twice as long, up to [`MAX_POLL`].
pub(super) const POLL: Duration = Duration::from_millis(100);
/// Longest pause between two checks. Many imports waiting at once (a drop
/// folder, one process per file) each check the queue with a few Redis calls
/// and a database query: seen in a 5,000 orders/s drop-folder stream on two
/// cores, 280 imports polling every 100 ms, load 145, 60 % of the CPU in the
/// kernel, and the import queue stuck just above its limit.
pub(super) const MAX_POLL: Duration = Duration::from_millis(800);

/// The pause after `poll`: twice as long, at most [`MAX_POLL`].
pub(super) fn next_poll(poll: Duration) -> Duration {
    (poll * 2).min(MAX_POLL)
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportRunError {
    /// The file cannot be opened, its header is wrong, or reading it failed.
    #[error(transparent)]
    File(#[from] ImportError),
    /// The rejects file cannot be written.
    #[error("cannot write the rejects file {path}: {source}")]
    Rejects {
        path: String,
        source: std::io::Error,
    },
    #[error("database: {0}")]
    Database(#[from] DbErr),
    /// Redis (the import queue) failed.
    #[error(transparent)]
    Queue(#[from] loco_rs::Error),
    /// The importer stopped taking chunks (it reports why).
    #[error("import stopped")]
    Stopped,
    /// The thread reading the file ended without a result.
    #[error("the file reader stopped: {0}")]
    Reader(#[source] tokio::task::JoinError),
    /// The spool of chunks kept for sending again cannot be written or read.
    #[error("the chunk spool (temporary directory): {0}")]
    Spool(std::io::Error),
    /// A chunk to send again is not in the spool.
    #[error("chunk {0} is missing from the spool")]
    NotSpooled(i64),
}

/// What the run reports while it goes, for a progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportEvent {
    /// Counts after another chunk of the file.
    Read(ImportStats),
    /// The import queue is full for the first time: reading pauses until
    /// workers take some (and will again whenever it fills up).
    QueueFull {
        pending: u64,
        orders: u64,
        order_limit: u64,
    },
    /// The queue is full and no live worker consumes it: reading goes on
    /// without waiting (said once).
    NoWorkers { pending: u64 },
    /// Chunk jobs written so far, while waiting for the import to finish.
    Written { done: i64, total: i64 },
    /// Chunks Redis lost before they were written were sent again.
    Resent { chunks: usize },
}

/// Receives [`ImportEvent`]s.
pub trait ImportProgress: Send + Sync {
    fn event(&self, event: ImportEvent);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_for_room_backs_off_to_at_most_800_ms() {
        let pauses: Vec<u128> = std::iter::successors(Some(POLL), |&p| Some(next_poll(p)))
            .take(6)
            .map(|p| p.as_millis())
            .collect();
        assert_eq!(pauses, [100, 200, 400, 800, 800, 800]);
    }
}
