//! Group commit for refund requests: concurrent requests of one process hand
//! themselves to a leader, which accepts them with [`super::batch`] in one
//! transaction and queues their jobs with one Redis call.
use std::{
    collections::{HashMap, HashSet},
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use sea_orm::DatabaseConnection;

use super::{
    batch::{self, BatchError, Entry},
    call::{RefundCall, PUSH_WAIT},
    desk::{Answer, Counters, OwnedCall, Recorded, RefundBatcher, RefundDesk, Ticket},
};
use crate::models::_entities::orders;

impl OwnedCall {
    fn call(&self) -> RefundCall<'_> {
        RefundCall {
            scope: &self.scope,
            key: &self.key,
            order_ref: &self.order_ref,
            input: &self.input,
        }
    }
}

impl RefundBatcher {
    /// Puts `call` in the next batch and waits for its answer. `None`: the
    /// batch was lost before answering (nothing of it committed, or it did and
    /// the single path replays it).
    pub async fn submit<D: RefundDesk>(
        &self,
        db: &DatabaseConnection,
        desk: &D,
        call: &RefundCall<'_>,
    ) -> Option<Answer> {
        let settings = desk.refund_settings();
        let ticket = Ticket {
            seq: self.next.fetch_add(1, Ordering::Relaxed),
            call: Arc::new(OwnedCall {
                scope: call.scope.to_string(),
                key: call.key.clone(),
                order_ref: call.order_ref.to_string(),
                input: call.input.clone(),
            }),
        };
        self.group
            .submit(
                ticket,
                Duration::from_millis(settings.batch_window_ms),
                settings.batch_size,
                || {
                    // Not the AppContext: cloning it copies the whole config.
                    let (db, desk) = (db.clone(), desk.clone());
                    let counters = Arc::clone(&self.counters);
                    move |tickets: Vec<Ticket>| {
                        let (db, desk) = (db.clone(), desk.clone());
                        let counters = Arc::clone(&counters);
                        async move { answer(&db, &desk, tickets, &counters).await }
                    }
                },
            )
            .await
    }
}

/// Runs one batch and answers every ticket: what the batch committed, or
/// [`Answer::Single`].
async fn answer<D: RefundDesk>(
    db: &DatabaseConnection,
    desk: &D,
    tickets: Vec<Ticket>,
    counters: &Counters,
) -> HashMap<Ticket, Answer> {
    let answers = run(db, desk, &tickets).await;
    let answered = answers.len() as u64;
    counters.batches.fetch_add(1, Ordering::Relaxed);
    counters.answered.fetch_add(answered, Ordering::Relaxed);
    counters
        .single
        .fetch_add(tickets.len() as u64 - answered, Ordering::Relaxed);
    counters.largest.fetch_max(answered, Ordering::Relaxed);
    tracing::debug!(requests = tickets.len(), answered, "refund batch");
    let mut answers = answers;
    tickets
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let answer = answers.remove(&i).map_or(Answer::Single, Answer::Recorded);
            (t, answer)
        })
        .collect()
}

/// The batch itself; returns the answers it committed, by ticket index.
async fn run<D: RefundDesk>(
    db: &DatabaseConnection,
    desk: &D,
    tickets: &[Ticket],
) -> HashMap<usize, Recorded> {
    let calls: Vec<RefundCall<'_>> = tickets.iter().map(|t| t.call.call()).collect();
    let refs: Vec<&str> = calls.iter().map(|c| c.order_ref).collect();
    let found = match orders::Entity::find_by_external_ids(db, &refs).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, requests = tickets.len(), "refund batch: orders not read; single path");
            return HashMap::new();
        }
    };
    let mut entries = Vec::with_capacity(calls.len());
    let mut indexes = Vec::with_capacity(calls.len());
    let (mut keys, mut orders) = (HashSet::new(), HashSet::new());
    for (i, call) in calls.iter().enumerate() {
        let order = found.get(call.order_ref);
        // One request per key and per order in a batch; the others run alone after it.
        let first_key = keys.insert((call.scope, call.key.as_str()));
        if !first_key || order.is_some_and(|o| !orders.insert(o.id)) {
            continue;
        }
        let target = order.map_or_else(
            || format!("order-ref:{}", call.order_ref),
            |o| format!("order:{}", o.id),
        );
        entries.push(Entry {
            call: *call,
            order,
            request_hash: call.input.request_hash(&target),
        });
        indexes.push(i);
    }
    let ttl = Duration::from_secs(desk.refund_settings().key_ttl_secs);
    let mut answers = HashMap::new();
    // A key that already has a refund (rare: expired and deleted) sends the
    // batch back once without it; any other failure sends all to the single path.
    for _ in 0..2 {
        if entries.is_empty() {
            break;
        }
        match batch::accept_many(db, &entries, ttl).await {
            Ok(answered) => {
                for (i, recorded) in indexes.iter().zip(answered) {
                    if let Some(recorded) = recorded {
                        answers.insert(*i, recorded);
                    }
                }
                break;
            }
            Err(BatchError::KeysRefunded(slots)) => {
                let slots: HashSet<usize> = slots.into_iter().collect();
                (entries, indexes) = entries
                    .into_iter()
                    .zip(indexes)
                    .enumerate()
                    .filter(|(slot, _)| !slots.contains(slot))
                    .map(|(_, pair)| pair)
                    .unzip();
            }
            Err(BatchError::Db(e)) => {
                tracing::warn!(error = %e, requests = entries.len(), "refund batch failed; single path");
                break;
            }
        }
    }
    let jobs: Vec<i64> = answers.values().filter_map(|r| r.refund_id).collect();
    if !jobs.is_empty() {
        // Committed already: if Redis fails now, the recovery sweep queues the
        // pending refunds again; the answers stay 202.
        // Within a bound: the callers wait for this answer (see `PUSH_WAIT`).
        let queued = desk.queue_refunds(jobs, PUSH_WAIT).await;
        if let Err(e) = queued {
            tracing::warn!(error = %e, "refund jobs not queued; the sweep will");
        }
    }
    answers
}
