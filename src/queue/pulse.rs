//! What one queue worker of this process last did, for the watchdog's report.
//!
//! A queue worker that stops fetching says nothing: apalis logs no error and
//! its heartbeat just grows old (see `watchdog`). The backend wrapper records
//! each call apalis makes into it and the handler counts the jobs running, so
//! that when the watchdog gives up on a worker it can say where the worker
//! stood: never polled again (nothing woke it), polled and told to wait (a
//! heartbeat, an acknowledgement or a fetch that never finished), or busy
//! with jobs that never ended. Each record is one relaxed atomic store.
use std::{
    sync::{
        atomic::{AtomicI64, AtomicU8, AtomicUsize, Ordering},
        Arc,
    },
    task::Poll,
    time::{SystemTime, UNIX_EPOCH},
};

/// The last answer of a backend call, as the watchdog reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Not called yet.
    Never,
    Pending,
    Ready,
    Failed,
}

impl Answer {
    const fn code(self) -> u8 {
        match self {
            Self::Never => 0,
            Self::Pending => 1,
            Self::Ready => 2,
            Self::Failed => 3,
        }
    }

    const fn from_code(code: u8) -> Self {
        match code {
            1 => Self::Pending,
            2 => Self::Ready,
            3 => Self::Failed,
            _ => Self::Never,
        }
    }

    /// The answer a poll gave: `Failed` for an error, `Ready` for anything else ready.
    pub fn of<T, E>(poll: &Poll<Result<T, E>>) -> Self {
        match poll {
            Poll::Pending => Self::Pending,
            Poll::Ready(Ok(_)) => Self::Ready,
            Poll::Ready(Err(_)) => Self::Failed,
        }
    }

    /// The answer a request for the next job gave: `Ready` for a job, `Failed`
    /// for an error or the end of the stream.
    pub fn of_next<T, E>(poll: &Poll<Option<Result<T, E>>>) -> Self {
        match poll {
            Poll::Pending => Self::Pending,
            Poll::Ready(Some(Ok(_))) => Self::Ready,
            Poll::Ready(Some(Err(_)) | None) => Self::Failed,
        }
    }
}

#[derive(Debug, Default)]
struct Call {
    at_ms: AtomicI64,
    answer: AtomicU8,
}

impl Call {
    fn record(&self, answer: Answer) {
        self.at_ms.store(now_ms(), Ordering::Relaxed);
        self.answer.store(answer.code(), Ordering::Relaxed);
    }

    fn seen(&self, now_ms: i64) -> CallSeen {
        let at = self.at_ms.load(Ordering::Relaxed);
        CallSeen {
            answer: Answer::from_code(self.answer.load(Ordering::Relaxed)),
            ago_ms: (at > 0).then(|| now_ms.saturating_sub(at)),
        }
    }
}

/// The pulse of one queue worker, shared by its backend, its handler and the housekeeping.
#[derive(Debug, Clone, Default)]
pub struct Pulse(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    ready: Call,
    next: Call,
    running: AtomicUsize,
}

impl Pulse {
    /// apalis asked the backend whether it is ready (where its heartbeat and acks run).
    pub fn polled_ready(&self, answer: Answer) {
        self.0.ready.record(answer);
    }

    /// apalis asked the backend for the next job.
    pub fn polled_next(&self, answer: Answer) {
        self.0.next.record(answer);
    }

    /// Counts a job of this queue as running until the guard is dropped.
    #[must_use]
    pub fn job_started(&self) -> RunningJob {
        self.0.running.fetch_add(1, Ordering::Relaxed);
        RunningJob(self.clone())
    }

    /// What the worker last did, as of now.
    #[must_use]
    pub fn seen(&self) -> PulseSeen {
        let now = now_ms();
        PulseSeen {
            ready: self.0.ready.seen(now),
            next: self.0.next.seen(now),
            running: self.0.running.load(Ordering::Relaxed),
        }
    }
}

/// A running job of the queue (see [`Pulse::job_started`]).
pub struct RunningJob(Pulse);

impl Drop for RunningJob {
    fn drop(&mut self) {
        self.0 .0.running.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One backend call as last seen: its answer and how long ago.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallSeen {
    pub answer: Answer,
    pub ago_ms: Option<i64>,
}

/// A worker's pulse at one moment (logged by the watchdog).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PulseSeen {
    pub ready: CallSeen,
    pub next: CallSeen,
    pub running: usize,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pulse_tells_the_last_answers_and_the_jobs_running() {
        let pulse = Pulse::default();
        let fresh = pulse.seen();
        assert_eq!(fresh.ready.answer, Answer::Never);
        assert_eq!(fresh.ready.ago_ms, None);

        pulse.polled_ready(Answer::of::<(), ()>(&Poll::Ready(Ok(()))));
        pulse.polled_next(Answer::of_next::<(), ()>(&Poll::Pending));
        let job = pulse.job_started();
        let busy = pulse.seen();
        assert_eq!(busy.ready.answer, Answer::Ready);
        assert_eq!(busy.next.answer, Answer::Pending);
        assert!(busy
            .ready
            .ago_ms
            .is_some_and(|ago| (0..1_000).contains(&ago)));
        assert_eq!(busy.running, 1);

        drop(job);
        pulse.polled_ready(Answer::of::<(), ()>(&Poll::Ready(Err(()))));
        let after = pulse.seen();
        assert_eq!(after.running, 0);
        assert_eq!(after.ready.answer, Answer::Failed);
        pulse.polled_next(Answer::of_next::<(), ()>(&Poll::Ready(None)));
        assert_eq!(pulse.seen().next.answer, Answer::Failed);
    }
}
