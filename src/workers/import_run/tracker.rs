//! Which chunks of this import are durably written, and sending again the ones
//! Redis lost.
//!
//! The database says what is committed (`import_chunks`, one row per chunk
//! applied); Redis only says what is still queued. Every chunk sent is tracked
//! by its task id until its row exists. A tracked chunk whose task is no longer
//! in Redis and whose row does not exist was lost (a `FLUSHALL`, a restart
//! without persistence) and is sent again from the spool. Redis is asked
//! before the database: a task that finishes in between has its row by the
//! time the database is read, so a committed chunk is never mistaken for a
//! lost one (and if it were, sending it again would write nothing).
use std::{collections::BTreeMap, time::Duration};

use sea_orm::DatabaseConnection;
use tokio::time::Instant;

use super::{
    retry::{with_db_retries, with_retries},
    types::{ImportEvent, ImportProgress, ImportRunError},
};
use crate::{
    models::import_chunks::Model as ImportChunk,
    queue::{JobQueue, Presence},
    workers::import_chunk::ImportChunkJob,
};

use super::spool::Spool;

/// How often the feeder compares Redis with the database while reading.
pub(super) const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The chunks sent and not yet known to be committed.
#[derive(Debug)]
pub(super) struct Tracker {
    import_id: i64,
    spool: Spool,
    /// Sequence number → task id of the latest send.
    outstanding: BTreeMap<i64, String>,
    /// Chunks sent again after Redis lost them.
    pub(super) resent: u64,
    last_check: Option<Instant>,
}

/// What one comparison found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Check {
    /// Chunks sent and not committed yet (after re-sending the lost ones).
    pub(super) outstanding: usize,
    /// Of which this many are in the dead set (they failed for good).
    pub(super) dead: usize,
    /// Sent again by this check.
    pub(super) resent: usize,
}

impl Tracker {
    pub(super) fn new(import_id: i64) -> Result<Self, ImportRunError> {
        let spool = Spool::create(import_id).map_err(ImportRunError::Spool)?;
        Ok(Self {
            import_id,
            spool,
            outstanding: BTreeMap::new(),
            resent: 0,
            last_check: None,
        })
    }

    /// Sends `chunks` (encoded jobs, by sequence number) and tracks them.
    pub(super) async fn send(
        &mut self,
        queue: &JobQueue<ImportChunkJob>,
        chunks: Vec<(i64, Vec<u8>)>,
    ) -> Result<(), ImportRunError> {
        if chunks.is_empty() {
            return Ok(());
        }
        for (seq, payload) in &chunks {
            self.spool
                .put(*seq, payload)
                .map_err(ImportRunError::Spool)?;
        }
        let payloads: Vec<Vec<u8>> = chunks.iter().map(|(_, p)| p.clone()).collect();
        // A push that timed out may have landed: pushing again is harmless,
        // a chunk that runs twice writes nothing the second time.
        let ids = with_retries(|| queue.push_encoded(&payloads)).await?;
        for ((seq, _), id) in chunks.iter().zip(ids) {
            self.outstanding.insert(*seq, id);
        }
        Ok(())
    }

    /// [`Self::check`], at most once per [`CHECK_EVERY`].
    pub(super) async fn check_now_and_then(
        &mut self,
        db: &DatabaseConnection,
        queue: &JobQueue<ImportChunkJob>,
        progress: &dyn ImportProgress,
    ) -> Result<(), ImportRunError> {
        if self.last_check.is_some_and(|at| at.elapsed() < CHECK_EVERY) {
            return Ok(());
        }
        self.check(db, queue, progress).await.map(|_| ())
    }

    /// Forgets the chunks now committed and sends again those Redis lost.
    pub(super) async fn check(
        &mut self,
        db: &DatabaseConnection,
        queue: &JobQueue<ImportChunkJob>,
        progress: &dyn ImportProgress,
    ) -> Result<Check, ImportRunError> {
        self.last_check = Some(Instant::now());
        let Some(&first) = self.outstanding.keys().next() else {
            return Ok(Check::default());
        };
        let (seqs, ids): (Vec<i64>, Vec<String>) = self
            .outstanding
            .iter()
            .map(|(seq, id)| (*seq, id.clone()))
            .unzip();
        let presence = with_retries(|| queue.presence(&ids)).await?;
        let committed =
            with_db_retries(|| ImportChunk::committed_seqs(db, self.import_id, first)).await?;
        for seq in committed {
            if self.outstanding.remove(&seq).is_some() {
                self.spool.forget(seq);
            }
        }
        let (mut lost, mut dead) = (Vec::new(), 0);
        for (seq, state) in seqs.into_iter().zip(presence) {
            if !self.outstanding.contains_key(&seq) {
                continue;
            }
            match state {
                Presence::Absent => lost.push(seq),
                Presence::Dead => dead += 1,
                Presence::Present => {}
            }
        }
        let resent = lost.len();
        if resent > 0 {
            let mut chunks = Vec::with_capacity(resent);
            for seq in lost {
                let payload = self
                    .spool
                    .get(seq)
                    .map_err(ImportRunError::Spool)?
                    .ok_or(ImportRunError::NotSpooled(seq))?;
                chunks.push((seq, payload));
            }
            tracing::warn!(
                import_id = self.import_id,
                chunks = resent,
                "chunks lost from Redis before they were written; sending them again"
            );
            progress.event(ImportEvent::Resent { chunks: resent });
            let payloads: Vec<Vec<u8>> = chunks.iter().map(|(_, p)| p.clone()).collect();
            let ids = with_retries(|| queue.push_encoded(&payloads)).await?;
            for ((seq, _), id) in chunks.iter().zip(ids) {
                self.outstanding.insert(*seq, id);
            }
            self.resent += resent as u64;
        }
        Ok(Check {
            outstanding: self.outstanding.len(),
            dead,
            resent,
        })
    }
}
