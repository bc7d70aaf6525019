//! Pausing a queue: its workers fetch nothing until it is resumed.
//!
//! The flag is one Redis key per queue (`{q}:paused`), so every worker process
//! on every host obeys it and it survives a web or worker restart. Workers do
//! not read it per fetch: each process reads the flags of its queues in one
//! pipelined round trip every [`CHECK_EVERY`] (and once before it starts
//! fetching), and a [`Pausable`] backend consults an atomic before each fetch.
//! The job path costs one atomic load; a pause takes effect within
//! [`CHECK_EVERY`].
//!
//! A paused worker keeps polling its backend's `poll_ready`, so its heartbeat
//! goes on and nothing takes it for dead. Jobs it already fetched (at most one
//! fetch batch) stay with it and run after the resume.
use std::{
    pin::Pin,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::Duration,
};

use apalis::prelude::{Backend, WorkerContext};
use apalis_core::backend::{BackendConfig, WireFormatBackend};
use futures::{FutureExt, Sink, SinkExt};
use redis::{aio::ConnectionLike, RedisResult};
use tokio::time::{Instant, Sleep};

use super::pulse::{Answer, Pulse};

/// How often a worker process reads the pause flags of its queues.
pub const CHECK_EVERY: Duration = Duration::from_millis(250);

/// The Redis key that pauses the queue named `name` (prefix included).
#[must_use]
pub fn paused_key(name: &str) -> String {
    format!("{name}:paused")
}

/// Pauses (`true`) or resumes the queue named `name`; returns whether that changed anything.
///
/// # Errors
/// Redis errors.
pub async fn set_paused<C: ConnectionLike>(
    conn: &mut C,
    name: &str,
    paused: bool,
) -> RedisResult<bool> {
    let changed: u64 = if paused {
        redis::cmd("SET")
            .arg(paused_key(name))
            .arg(1)
            .arg("NX")
            .query_async::<Option<String>>(conn)
            .await?
            .map_or(0, |_| 1)
    } else {
        redis::cmd("DEL")
            .arg(paused_key(name))
            .query_async(conn)
            .await?
    };
    Ok(changed > 0)
}

/// Whether each queue of `names` is paused, in order, in one round trip.
///
/// # Errors
/// Redis errors.
pub async fn read_paused<C: ConnectionLike>(
    conn: &mut C,
    names: &[&str],
) -> RedisResult<Vec<bool>> {
    let mut pipe = redis::pipe();
    for name in names {
        pipe.cmd("EXISTS").arg(paused_key(name));
    }
    pipe.query_async(conn).await
}

/// What one worker knows about its queue's pause flag, shared with its backend.
#[derive(Debug, Clone, Default)]
pub struct PauseSwitch {
    paused: Arc<AtomicBool>,
    /// Fetches skipped because the queue was paused: proof, for an operator or a
    /// test, that the worker is alive and obeying the pause.
    skipped_fetches: Arc<AtomicU64>,
}

impl PauseSwitch {
    pub fn set(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
    }

    #[must_use]
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    #[must_use]
    pub fn skipped_fetches(&self) -> u64 {
        self.skipped_fetches.load(Ordering::Relaxed)
    }
}

/// A backend that fetches nothing while its [`PauseSwitch`] is on, and the
/// poll interval of every queue worker: whenever the worker is left waiting
/// (paused, or after a fetch that found nothing) it is woken within `every`
/// to look again.
pub struct Pausable<B> {
    inner: B,
    switch: PauseSwitch,
    every: Duration,
    timer: Option<Pin<Box<Sleep>>>,
    /// Where the worker's calls are recorded for the watchdog.
    pulse: Pulse,
}

impl<B> Pausable<B> {
    pub fn new(inner: B, switch: PauseSwitch, every: Duration, pulse: Pulse) -> Self {
        Self {
            inner,
            switch,
            every,
            timer: None,
            pulse,
        }
    }
}

impl<B> Pausable<B> {
    /// Makes sure this task is woken within `every`; whether the previous
    /// `every` had run out.
    fn look_again_after_every(&mut self, cx: &mut Context<'_>) -> bool {
        let every = self.every;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(every)));
        if timer.poll_unpin(cx).is_pending() {
            return false;
        }
        timer.as_mut().reset(Instant::now() + every);
        // Registers the waker for the next look.
        let _ = timer.poll_unpin(cx);
        true
    }
}

impl<B: Backend> Backend for Pausable<B> {
    type Task = B::Task;
    type Error = B::Error;

    fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        let poll = self.inner.poll_ready(cx, worker);
        self.pulse.polled_ready(Answer::of(&poll));
        poll
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Option<Result<Self::Task, Self::Error>>> {
        if self.switch.is_paused() {
            if self.look_again_after_every(cx) {
                self.switch.skipped_fetches.fetch_add(1, Ordering::Relaxed);
            }
            return Poll::Pending;
        }
        let poll = self.inner.poll_next(cx, worker);
        self.pulse.polled_next(Answer::of_next(&poll));
        if poll.is_pending() {
            // An empty fetch leaves apalis-redis waiting for a wake-up it does
            // not arrange itself. apalis's interval strategy (`poll_with_interval`)
            // loses it whenever its delay and the fetch's reply are both ready
            // by the same poll (a busy machine): its next delay is never
            // polled, and the worker looked again only at its next heartbeat,
            // up to 2 s later. That was the 1-1.7 s stalls of the import
            // queue in a steady stream (BENCHMARKS.md, session 14).
            let _ = self.look_again_after_every(cx);
        }
        poll
    }

    fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_close(cx, worker)
    }
}

impl<B: BackendConfig> BackendConfig for Pausable<B> {
    type Id = B::Id;
    type Args = B::Args;
    type Kind = B::Kind;
    type Config = B::Config;
    type Layer = B::Layer;

    fn config(&self) -> &Self::Config {
        self.inner.config()
    }

    fn middleware(&mut self, worker: &mut WorkerContext) -> Self::Layer {
        self.inner.middleware(worker)
    }
}

impl<B: WireFormatBackend> WireFormatBackend for Pausable<B> {
    type Compact = B::Compact;
    type Codec = B::Codec;

    fn codec(&self) -> &Self::Codec {
        self.inner.codec()
    }
}

impl<B: Sink<T> + Unpin, T> Sink<T> for Pausable<B> {
    type Error = B::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().inner.poll_ready_unpin(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: T) -> Result<(), Self::Error> {
        self.get_mut().inner.start_send_unpin(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().inner.poll_flush_unpin(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().inner.poll_close_unpin(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::atomic::AtomicUsize, task::Waker};

    use futures::task::ArcWake;

    use super::*;

    /// A backend that never has a job and, like apalis-redis after an empty
    /// fetch, arranges no wake-up of its own.
    #[derive(Default)]
    struct NothingToFetch {
        fetches: usize,
    }

    impl Backend for NothingToFetch {
        type Task = ();
        type Error = std::io::Error;

        fn poll_ready(
            &mut self,
            _: &mut Context<'_>,
            _: &WorkerContext,
        ) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn poll_next(
            &mut self,
            _: &mut Context<'_>,
            _: &WorkerContext,
        ) -> Poll<Option<Result<(), Self::Error>>> {
            self.fetches += 1;
            Poll::Pending
        }

        fn poll_close(
            &mut self,
            _: &mut Context<'_>,
            _: &WorkerContext,
        ) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
    }

    #[derive(Default)]
    struct Wakes(AtomicUsize);

    impl ArcWake for Wakes {
        fn wake_by_ref(this: &Arc<Self>) {
            this.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    const EVERY: Duration = Duration::from_millis(10);

    /// A worker's backend on `switch` over [`NothingToFetch`], and a waker that counts its wake-ups.
    fn idle_worker(switch: PauseSwitch) -> (Pausable<NothingToFetch>, Arc<Wakes>, Waker) {
        let wakes = Arc::new(Wakes::default());
        let waker = futures::task::waker(Arc::clone(&wakes));
        let backend = Pausable::new(NothingToFetch::default(), switch, EVERY, Pulse::default());
        (backend, wakes, waker)
    }

    #[tokio::test(start_paused = true)]
    async fn a_worker_whose_fetch_found_nothing_is_woken_to_fetch_again_within_the_interval() {
        let (mut backend, wakes, waker) = idle_worker(PauseSwitch::default());
        let mut cx = Context::from_waker(&waker);
        let worker = WorkerContext::new("idle");

        for round in 1..=3 {
            assert!(backend.poll_next(&mut cx, &worker).is_pending());
            tokio::time::sleep(EVERY + Duration::from_millis(1)).await;
            assert_eq!(
                wakes.0.load(Ordering::Relaxed),
                round,
                "woken once per interval"
            );
        }
        assert_eq!(backend.inner.fetches, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_worker_fetches_nothing_and_is_woken_to_look_at_the_flag_again() {
        let switch = PauseSwitch::default();
        switch.set(true);
        let (mut backend, wakes, waker) = idle_worker(switch.clone());
        let mut cx = Context::from_waker(&waker);
        let worker = WorkerContext::new("paused");

        assert!(backend.poll_next(&mut cx, &worker).is_pending());
        tokio::time::sleep(EVERY + Duration::from_millis(1)).await;
        assert_eq!(wakes.0.load(Ordering::Relaxed), 1);
        assert!(backend.poll_next(&mut cx, &worker).is_pending());
        assert_eq!(backend.inner.fetches, 0);
        assert_eq!(switch.skipped_fetches(), 1);
    }
}
