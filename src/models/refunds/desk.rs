//! What takes a refund request: the [`RefundDesk`] a request is handed, this
//! process's [`RefundBatcher`] (its state; what it does with a batch is in
//! `batcher.rs`) and the answer a request gets ([`Recorded`]). Apart from the
//! batch logic so that what holds a desk (the services every handler and task
//! takes) does not import the whole refund path.
use std::{
    future::Future,
    hash::{Hash, Hasher},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use super::input::{IdempotencyKey, RefundInput};
use crate::{models::group_commit::GroupCommit, settings::RefundSettings};

/// The answer to a refund request: the first response to its key, given now
/// or replayed (`replayed`), with its HTTP status and exact JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub status: u16,
    pub body: String,
    pub replayed: bool,
    pub refund_id: Option<i64>,
}

/// What a refund request needs besides the database: its settings, this
/// process's batcher, and a way to queue the jobs of committed refunds. The
/// worker layer provides it (`workers::Services`); models know no queue.
/// Here, beside the batcher it hands out, because each names the other.
pub trait RefundDesk: Clone + Send + Sync + 'static {
    /// `settings.refunds`.
    fn refund_settings(&self) -> RefundSettings;

    /// Groups this process's refund requests into batches.
    fn batcher(&self) -> &RefundBatcher;

    /// Queues the jobs of refunds already committed, waiting at most `wait`
    /// (what is not queued then, the recovery sweep queues).
    fn queue_refunds(
        &self,
        refund_ids: Vec<i64>,
        wait: Duration,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// How a batch answered one request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Answered in the batch (committed): a 202 or a refusal stored on the key.
    Recorded(Recorded),
    /// Not taken by the batch: the caller runs the single path.
    Single,
}

/// A request waiting for its batch. Every submission is its own ticket, so
/// two identical requests are never merged into one answer.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub(super) seq: u64,
    pub(super) call: Arc<OwnedCall>,
}

impl PartialEq for Ticket {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}

impl Eq for Ticket {}

impl Hash for Ticket {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.seq.hash(state);
    }
}

/// A request as a batch keeps it: owned, since the caller only lends it.
#[derive(Debug)]
pub(super) struct OwnedCall {
    pub(super) scope: String,
    pub(super) key: IdempotencyKey,
    pub(super) order_ref: String,
    pub(super) input: RefundInput,
}

/// Batches taken so far by this process, for tests and operators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Batch transactions run (committed or not).
    pub batches: u64,
    /// Requests answered by a committed batch.
    pub answered: u64,
    /// Requests handed to the single path.
    pub single: u64,
    /// Most requests answered by one batch.
    pub largest: u64,
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) batches: AtomicU64,
    pub(super) answered: AtomicU64,
    pub(super) single: AtomicU64,
    pub(super) largest: AtomicU64,
}

/// Groups this process's refund requests into batches.
/// What it does with them is in `batcher.rs`.
pub struct RefundBatcher {
    pub(super) group: Arc<GroupCommit<Ticket, Answer>>,
    pub(super) next: AtomicU64,
    pub(super) counters: Arc<Counters>,
}

/// Refund batches one process runs at once. Their requests are for different
/// orders and keys, so they do not wait on each other's locks. Measured with
/// `bench_refunds.sh` at 256 connections: one at a time (the workflow's rule)
/// 1,345–1,713 accepted/s, 2 at once 4,249, 4 at once 5,533, 8 at once 6,139.
const BATCHES_AT_ONCE: usize = 8;

impl Default for RefundBatcher {
    fn default() -> Self {
        Self {
            group: Arc::new(GroupCommit::concurrent(BATCHES_AT_ONCE)),
            next: AtomicU64::new(0),
            counters: Arc::default(),
        }
    }
}

impl RefundBatcher {
    /// What this process's batches did so far.
    #[must_use]
    pub fn stats(&self) -> BatchStats {
        let c = &self.counters;
        BatchStats {
            batches: c.batches.load(Ordering::Relaxed),
            answered: c.answered.load(Ordering::Relaxed),
            single: c.single.load(Ordering::Relaxed),
            largest: c.largest.load(Ordering::Relaxed),
        }
    }
}
