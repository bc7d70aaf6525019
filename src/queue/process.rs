//! One apalis `Monitor` per worker process, plus the housekeeping it needs.
use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use apalis::{
    layers::retry::{
        backoff::{ExponentialBackoffMaker, MakeBackoff},
        HasherRng,
    },
    prelude::*,
};
use loco_rs::{app::AppContext, Error, Result};
use tokio::{sync::watch, task::JoinHandle};

use super::{
    heartbeat,
    job::handle,
    job_queue as queue,
    pause::{self, Pausable, PauseSwitch},
    pulse::Pulse,
    scripts,
    stats::{self, JobStats},
    watchdog,
    worker_info::{self, QueueSlot, WorkerInfo},
    Job, Queues,
};

/// How long shutdown waits for in-flight jobs before giving up on them
/// (they come back through the heartbeat of another worker).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Cadence of the promoter (retries due → active) and of the finished-job reaper.
const PROMOTE_EVERY: Duration = Duration::from_secs(1);
const REAP_EVERY: Duration = Duration::from_secs(5);
/// Cadence of the check for a queue worker that stopped (see `watchdog`).
const WATCH_EVERY: Duration = Duration::from_secs(10);
/// Exit status when a queue worker stopped: EX_TEMPFAIL, a supervisor restarts.
const STALLED_EXIT_CODE: i32 = 75;

static INSTANCES: AtomicUsize = AtomicUsize::new(0);

/// One queue of this process, as its housekeeping sees it.
#[derive(Clone)]
struct KeptQueue {
    /// Full name (prefix included).
    name: String,
    /// How long its finished jobs are kept.
    keep_done_secs: u64,
    /// What its worker last did, for the watchdog's report.
    pulse: Pulse,
    /// The pause flag its worker obeys.
    switch: PauseSwitch,
}

/// The queues one process works, before it starts. Every job of the set is
/// handed the same context `C` (built once per process by whoever starts it).
pub struct WorkerSet<C> {
    cx: C,
    queues: Queues,
    monitor: Monitor,
    /// What the housekeeping needs of each queue.
    kept: Vec<KeptQueue>,
    /// Tallies of this process's jobs, flushed to Redis by the housekeeping.
    stats: JobStats,
    instance: String,
    /// What the console's workers page shows of this process.
    info: WorkerInfo,
}

impl<C: Clone + Send + Sync + 'static> WorkerSet<C> {
    /// An empty set for this process, on `queues`, whose jobs are handed `cx`.
    #[must_use]
    pub fn new(queues: Queues, cx: C) -> Self {
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        let n = INSTANCES.fetch_add(1, Ordering::Relaxed);
        let instance = format!("{host}-{}-{n}", std::process::id());
        Self {
            info: WorkerInfo::of_this_process(&instance, &host),
            cx,
            queues,
            monitor: Monitor::new(),
            kept: Vec::new(),
            stats: JobStats::default(),
            // Live worker names must be unique in Redis: two processes on one
            // machine differ by pid, two sets in one process by `n`.
            instance,
        }
    }

    /// Adds a worker for `J`'s queue with the queue's configured behaviour.
    #[must_use]
    pub fn add<J: Job<Context = C>>(mut self) -> Self {
        let settings = &self.queues.settings;
        let queue_settings = J::settings(settings);
        let name = queue::full_name(settings, J::QUEUE);
        let storage = queue::storage::<J>(
            self.queues.redis.clone(),
            &name,
            &settings.apalis,
            &queue_settings,
        );
        let poll = Duration::from_millis(settings.apalis.poll_interval_ms.max(1));
        let backoff = ExponentialBackoffMaker::new(
            queue_settings.backoff(),
            queue_settings
                .backoff()
                .saturating_mul(64)
                .max(Duration::from_millis(1)),
            0.25,
            HasherRng::default(),
        )
        .map(|mut maker| maker.make_backoff());
        let Ok(backoff) = backoff else {
            tracing::error!(
                queue = J::QUEUE,
                "invalid backoff settings; queue not started"
            );
            return self;
        };
        // apalis clones its data into every task and again out of it: `C` is
        // meant to be an `Arc`, so that costs a reference count, not a copy.
        let cx = self.cx.clone();
        let instance = self.instance.clone();
        let job_stats = self.stats.clone();
        // Shared by the worker's restarts: the housekeeping sets the pause flag
        // and the watchdog reports the pulse of the one running.
        let (switch, pulse) = (PauseSwitch::default(), Pulse::default());
        let (worker_switch, worker_pulse) = (switch.clone(), pulse.clone());
        self.monitor = self.monitor.register(move |restarts| {
            // A restarted worker takes a new name: apalis refuses a name still
            // within its heartbeat threshold.
            WorkerBuilder::new(format!("{instance}-{}-r{restarts}", J::QUEUE))
                // Pausable is also the poll interval (apalis's loses wake-ups: see there).
                .backend(Pausable::new(
                    storage.clone(),
                    worker_switch.clone(),
                    poll,
                    worker_pulse.clone(),
                ))
                .data(cx.clone())
                .data(worker_pulse.clone())
                .data(queue_settings)
                .data(job_stats.clone())
                .catch_panic()
                .concurrency(queue_settings.concurrency)
                .retry(RetryPolicy::retries(queue_settings.retries).with_backoff(backoff.clone()))
                .build(handle::<J>)
        });
        let keep_done = queue_settings.keep_done_secs(&settings.apalis);
        self.kept.push(KeptQueue {
            name,
            keep_done_secs: keep_done,
            pulse,
            switch,
        });
        self.info.queues.push(QueueSlot {
            queue: J::QUEUE.to_string(),
            concurrency: queue_settings.concurrency,
        });
        self
    }

    /// Starts the monitor and the housekeeping loops in the background.
    ///
    /// # Errors
    /// When Redis fails during the first promotion of due jobs.
    pub async fn start(self) -> Result<WorkerProcess> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut redis = self.queues.redis.clone();
        for KeptQueue { name, .. } in &self.kept {
            scripts::promote_due(&mut redis, name)
                .await
                .map_err(|e| Error::string(&format!("queue {name}: {e}")))?;
        }
        // A paused queue fetches nothing, not even before the first check.
        refresh_pauses(&mut redis, &self.kept)
            .await
            .map_err(|e| Error::string(&format!("reading paused queues: {e}")))?;
        let housekeeping = tokio::spawn(housekeeping(
            self.queues.clone(),
            self.kept.clone(),
            self.stats.clone(),
            self.instance.clone(),
            self.info,
            stop_rx.clone(),
        ));
        let monitor = self
            .monitor
            .should_restart(|worker, error| {
                tracing::error!(worker = worker.name(), %error, "worker stopped; restarting");
                true
            })
            .shutdown_timeout(DRAIN_TIMEOUT);
        let mut signal = stop_rx;
        let last_stats = self.stats;
        let mut stats_redis = self.queues.redis.clone();
        let prefix = self.queues.settings.redis.prefix.clone();
        let run = tokio::spawn(async move {
            let stopped = async move {
                stop_requested(&mut signal).await;
                Ok(())
            };
            if let Err(e) = monitor.run_with_signal(stopped).await {
                tracing::error!(error = %e, "worker monitor failed");
            }
            // After the drain: the jobs that finished during it are counted too.
            if let Err(e) = last_stats.flush(&mut stats_redis, &prefix).await {
                tracing::warn!(error = %e, "writing the last job statistics failed");
            }
        });
        let names: Vec<&str> = self.kept.iter().map(|q| q.name.as_str()).collect();
        tracing::info!(instance = %self.instance, queues = ?names, "workers started");
        Ok(WorkerProcess {
            stop: stop_tx,
            tasks: Mutex::new(vec![run, housekeeping]),
            queues: self.kept,
        })
    }
}

/// Running workers; [`WorkerProcess::stop`] drains them.
pub struct WorkerProcess {
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    queues: Vec<KeptQueue>,
}

impl WorkerProcess {
    /// Runs `task` until [`Self::stop`]: it gets the stop signal and is awaited
    /// like the queue workers when the process drains.
    pub fn attach<F, Fut>(&self, task: F)
    where
        F: FnOnce(watch::Receiver<bool>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(task(self.stop.subscribe()));
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.push(handle);
        }
    }

    /// Keeps this process in `ctx.shared_store` for [`Self::shutdown`].
    pub fn install(self, ctx: &AppContext) {
        ctx.shared_store.insert(Arc::new(self));
    }

    /// Drains the workers kept by [`Self::install`], if any.
    pub async fn shutdown(ctx: &AppContext) {
        if let Some(process) = ctx.shared_store.get::<Arc<Self>>() {
            process.stop().await;
        }
    }

    /// Full Redis names of the queues worked here.
    pub fn queues(&self) -> impl Iterator<Item = &str> {
        self.queues.iter().map(|q| q.name.as_str())
    }

    /// Fetches the worker of the queue named `name` (prefix included) skipped
    /// because the queue was paused; `None` when this process does not work it.
    #[must_use]
    pub fn skipped_fetches(&self, name: &str) -> Option<u64> {
        self.queues
            .iter()
            .find(|q| q.name == name)
            .map(|q| q.switch.skipped_fetches())
    }

    /// Stops fetching, lets in-flight jobs finish (up to the drain timeout), then returns.
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let tasks = self
            .tasks
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        for task in tasks {
            if tokio::time::timeout(DRAIN_TIMEOUT + Duration::from_secs(5), task)
                .await
                .is_err()
            {
                tracing::warn!("a worker task did not stop in time");
            }
        }
        tracing::info!("workers stopped");
    }
}

/// Promotes due retries in slices, deletes finished jobs past retention, and
/// exits the process when one of its queue workers stopped fetching.
async fn housekeeping(
    handle: Queues,
    queues: Vec<KeptQueue>,
    job_stats: JobStats,
    instance: String,
    mut info: WorkerInfo,
    mut stop: watch::Receiver<bool>,
) {
    let mut redis = handle.redis.clone();
    let mut promote = tokio::time::interval(PROMOTE_EVERY);
    let mut reap = tokio::time::interval(REAP_EVERY);
    let mut watch = tokio::time::interval(WATCH_EVERY);
    let mut pauses = tokio::time::interval(pause::CHECK_EVERY);
    let mut flush = tokio::time::interval(stats::FLUSH_EVERY);
    let names: Vec<String> = queues.iter().map(|q| q.name.clone()).collect();
    let apalis = &handle.settings.apalis;
    let mut beat = tokio::time::interval(Duration::from_secs(apalis.heartbeat_secs.max(1)));
    let stale_after = watchdog::stale_after_secs(apalis.heartbeat_secs, apalis.missed_heartbeats);
    let prefix = handle.settings.redis.prefix.as_str();
    loop {
        tokio::select! {
            () = stop_requested(&mut stop) => {
                // Stopped: no longer live, at once rather than after the TTL.
                if let Err(e) = heartbeat::leave(&mut redis, &names, &instance).await {
                    tracing::warn!(error = %e, "removing this process's heartbeats failed; they expire");
                }
                if let Err(e) = worker_info::withdraw(&mut redis, prefix, &instance).await {
                    tracing::warn!(error = %e, "removing this process's details failed; they expire");
                }
                return;
            }
            _ = beat.tick() => {
                if let Err(e) = heartbeat::beat(&mut redis, &names, &instance, stale_after).await {
                    tracing::warn!(error = %e, "writing this process's heartbeat failed");
                }
                info.refresh();
                let keep = apalis.heartbeat_secs.max(1) * worker_info::KEEP_BEATS;
                if let Err(e) = worker_info::publish(&mut redis, prefix, &info, keep).await {
                    tracing::warn!(error = %e, "writing this process's details failed");
                }
            }
            _ = watch.tick() => {
                let now = scripts::unix_now();
                match watchdog::stalled_queues(&mut redis, &instance, &names, now, stale_after).await {
                    Ok(stalled) if !stalled.is_empty() => {
                        // Where each stalled worker stood: see `pulse`.
                        let seen: Vec<_> = stalled
                            .iter()
                            .filter_map(|s| queues.iter().find(|q| q.name == s.queue))
                            .map(|q| (&q.name, q.pulse.seen()))
                            .collect();
                        tracing::error!(
                            ?stalled,
                            ?seen,
                            "a queue worker of this process stopped fetching while jobs wait; \
                             exiting so that the process is restarted"
                        );
                        std::process::exit(STALLED_EXIT_CODE);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "checking the workers' heartbeats failed"),
                }
            }
            _ = flush.tick() => {
                if let Err(e) = job_stats.flush(&mut redis, prefix).await {
                    tracing::warn!(error = %e, "writing job statistics failed; kept for the next flush");
                }
            }
            _ = pauses.tick() => {
                if let Err(e) = refresh_pauses(&mut redis, &queues).await {
                    tracing::warn!(error = %e, "reading paused queues failed; workers keep their last state");
                }
            }
            _ = promote.tick() => {
                for KeptQueue { name, .. } in &queues {
                    if let Err(e) = scripts::promote_due(&mut redis, name).await {
                        tracing::warn!(queue = %name, error = %e, "promoting due jobs failed");
                    }
                }
            }
            _ = reap.tick() => {
                for KeptQueue { name, keep_done_secs, .. } in &queues {
                    // A queue that keeps nothing deletes without reading finish times.
                    let cutoff = (*keep_done_secs > 0)
                        .then(|| scripts::unix_now().saturating_sub(*keep_done_secs));
                    // Dead jobs are kept for inspection and retry; only `done` is trimmed.
                    if let Err(e) = scripts::reap_expired(&mut redis, name, "done", cutoff).await {
                        tracing::warn!(queue = %name, error = %e, "trimming finished jobs failed");
                    }
                }
            }
        }
    }
}

/// Reads the pause flag of every queue of `queues` and hands it to its worker.
async fn refresh_pauses(
    redis: &mut redis::aio::ConnectionManager,
    queues: &[KeptQueue],
) -> redis::RedisResult<()> {
    // Borrowed: this runs every 250 ms.
    let names: Vec<&str> = queues.iter().map(|q| q.name.as_str()).collect();
    let paused = pause::read_paused(redis, &names).await?;
    for (KeptQueue { name, switch, .. }, paused) in queues.iter().zip(paused) {
        if switch.is_paused() != paused {
            tracing::info!(queue = %name, paused, "queue pause flag changed");
        }
        switch.set(paused);
    }
    Ok(())
}

/// Resolves once [`WorkerProcess::stop`] was called (or its handle dropped).
pub async fn stop_requested(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}
