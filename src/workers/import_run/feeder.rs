//! Pushes chunk jobs in batches, pausing while the import queue is full.
use std::{
    io::{Read, Seek},
    path::PathBuf,
    time::Duration,
};

use tokio::time::Instant;

use sea_orm::DatabaseConnection;
use tokio::sync::mpsc;

use super::{
    pace::Pace,
    reader::{file_counts, read_file},
    retry::{with_db_retries, with_retries},
    tracker::Tracker,
    types::{
        next_poll, ImportEvent, ImportProgress, ImportRunError, CHUNKS_PER_PUSH,
        MAX_PENDING_CHUNKS, POLL, WARNINGS_SHOWN,
    },
};
use crate::{
    models::{
        import::{Chunk, OrderStream, RejectsWriter, Warning},
        imports::{FileCounts, Model as Import},
    },
    queue::{JobQueue, OrderWorkflowJob},
    workers::import_chunk::ImportChunkJob,
};

/// The pushing side of one import.
pub(super) struct Feeder<'a> {
    db: &'a DatabaseConnection,
    import_id: i64,
    queue: JobQueue<ImportChunkJob>,
    workflow: JobQueue<OrderWorkflowJob>,
    /// `settings.workflow.max_queued_orders`.
    order_limit: u64,
    progress: &'a dyn ImportProgress,
    /// Encoded chunk jobs not pushed yet, by sequence number.
    batch: Vec<(i64, Vec<u8>)>,
    /// What was sent and is not committed yet; sends lost chunks again.
    pub(super) tracker: Tracker,
    /// Chunk jobs pushed so far.
    pub(super) chunks: u64,
    /// Counts of the file so far.
    pub(super) counts: FileCounts,
    /// Busy time of the parser thread.
    pub(super) parse_time: Duration,
    /// The first warnings, to show.
    pub(super) warnings: Vec<Warning>,
    warned_no_workers: bool,
    /// No live worker process since then (a flush hides beats for up to one
    /// heartbeat: nobody is declared absent before `no_worker_grace`).
    unattended_since: Option<Instant>,
    no_worker_grace: Duration,
    /// Times reading paused for the queue (said once, counted for the summary).
    pub(super) pauses: u64,
    /// `rate=N`: each chunk waits for its turn and is queued alone.
    pace: Option<Pace>,
}

impl<'a> Feeder<'a> {
    pub(super) fn new(
        db: &'a DatabaseConnection,
        import_id: i64,
        queue: JobQueue<ImportChunkJob>,
        (workflow, order_limit): (JobQueue<OrderWorkflowJob>, u64),
        progress: &'a dyn ImportProgress,
        tracker: Tracker,
        no_worker_grace: Duration,
    ) -> Self {
        Self {
            tracker,
            unattended_since: None,
            no_worker_grace,
            db,
            import_id,
            queue,
            workflow,
            order_limit,
            progress,
            batch: Vec::with_capacity(CHUNKS_PER_PUSH),
            chunks: 0,
            counts: FileCounts::default(),
            parse_time: Duration::ZERO,
            warnings: Vec::new(),
            warned_no_workers: false,
            pauses: 0,
            pace: None,
        }
    }

    /// Releases the file's orders at `pace` instead of as fast as the queue takes them.
    pub(super) fn paced(mut self, pace: Option<Pace>) -> Self {
        self.pace = pace;
        self
    }

    /// Reads the file on a blocking thread and queues its chunks; returns the
    /// rejects file, if any. Chunks read before a failure are queued too.
    pub(super) async fn feed<R: Read + Seek + Send + 'static>(
        &mut self,
        stream: OrderStream<R>,
        rejects: RejectsWriter,
    ) -> Result<Option<PathBuf>, ImportRunError> {
        let (tx, mut rx) = mpsc::channel(CHUNKS_PER_PUSH * 2);
        let reader = tokio::task::spawn_blocking(move || read_file(stream, rejects, &tx));
        while let Some(chunk) = rx.recv().await {
            self.take(chunk).await?;
        }
        let ended = reader.await.map_err(ImportRunError::Reader)?;
        self.counts = file_counts(&ended.stats);
        self.parse_time = ended.parse_time;
        self.push().await?;
        ended.result
    }

    async fn take(&mut self, chunk: Chunk) -> Result<(), ImportRunError> {
        self.progress.event(ImportEvent::Read(chunk.stats));
        self.counts = file_counts(&chunk.stats);
        let room = WARNINGS_SHOWN.saturating_sub(self.warnings.len());
        self.warnings.extend(chunk.warnings.into_iter().take(room));
        let mut paced = false;
        if !chunk.orders.is_empty() {
            if let Some(pace) = &mut self.pace {
                // A paced chunk goes alone, the moment its orders are due.
                pace.wait_for(chunk.orders.len()).await;
                paced = true;
            }
            self.chunks += 1;
            let seq = i64::try_from(self.chunks).unwrap_or(i64::MAX);
            let job = ImportChunkJob {
                import_id: self.import_id,
                seq,
                orders: chunk.orders,
            };
            self.batch.push((seq, JobQueue::encode(&job)?));
        }
        if paced || self.batch.len() >= CHUNKS_PER_PUSH {
            self.push().await?;
            // The counts as often as unpaced, not once per paced chunk.
            if !paced || self.chunks.is_multiple_of(CHUNKS_PER_PUSH as u64) {
                let (db, id, counts) = (self.db, self.import_id, self.counts);
                with_db_retries(|| Import::record_counts(db, id, counts)).await?;
            }
        }
        Ok(())
    }

    async fn push(&mut self) -> Result<(), ImportRunError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.make_room().await?;
        let batch = std::mem::take(&mut self.batch);
        self.tracker.send(&self.queue, batch).await?;
        self.tracker
            .check_now_and_then(self.db, &self.queue, self.progress)
            .await
    }

    /// Waits while the import queue holds more than [`MAX_PENDING_CHUNKS`]
    /// chunks, or the workflow queue more than `order_limit` orders,
    /// unless nobody is there to take them. Without the second limit a fast
    /// import queued every order of the file in Redis ahead of the workflow.
    async fn make_room(&mut self) -> Result<(), ImportRunError> {
        let (mut chunk_limit, mut order_limit) = (MAX_PENDING_CHUNKS, self.order_limit);
        let mut poll = POLL;
        loop {
            // Chunks Redis lost while the reader waits are sent again.
            self.tracker
                .check_now_and_then(self.db, &self.queue, self.progress)
                .await?;
            let queue = &self.queue;
            let chunks = with_retries(|| queue.counts()).await?.pending;
            let chunks_full = chunks > chunk_limit;
            if chunks_full && self.nobody_there().await? {
                if !self.warned_no_workers {
                    self.progress
                        .event(ImportEvent::NoWorkers { pending: chunks });
                    self.warned_no_workers = true;
                }
                return Ok(());
            }
            let workflow = &self.workflow;
            let orders = with_retries(|| workflow.counts()).await?.pending;
            // Orders nobody works yet wait in the queue; they do not stop the import.
            let orders_full =
                orders > order_limit && with_retries(|| workflow.live_workers()).await? > 0;
            if !chunks_full && !orders_full {
                return Ok(());
            }
            if chunk_limit == MAX_PENDING_CHUNKS {
                if self.pauses == 0 {
                    self.progress.event(ImportEvent::QueueFull {
                        pending: chunks,
                        orders,
                        order_limit: self.order_limit,
                    });
                }
                self.pauses += 1;
                // Resume at half: one pause per batch of work, not one per push.
                (chunk_limit, order_limit) = (MAX_PENDING_CHUNKS / 2, self.order_limit / 2);
            }
            tokio::time::sleep(poll).await;
            poll = next_poll(poll);
        }
    }
}

impl Feeder<'_> {
    /// No live worker process of the import queue, for longer than the grace.
    async fn nobody_there(&mut self) -> Result<bool, ImportRunError> {
        let queue = &self.queue;
        if with_retries(|| queue.live_workers()).await? > 0 {
            self.unattended_since = None;
            return Ok(false);
        }
        let since = *self.unattended_since.get_or_insert_with(Instant::now);
        Ok(since.elapsed() > self.no_worker_grace)
    }
}
