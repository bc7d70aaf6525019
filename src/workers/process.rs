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
    pause::{self, Pausable, PauseSwitch},
    queue, scripts,
    stats::{self, JobStats},
    watchdog,
    worker_info::{self, QueueSlot, WorkerInfo},
    Job, Lease, Services,
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
/// How stale the live figures may be.
const KPI_DRAIN_EVERY: Duration = Duration::from_millis(200);
/// How long one process may drain before another may start too. A drainer that
/// dies holding it delays the figures this long; two at once are only wasteful
/// (applying is idempotent).
const KPI_DRAIN_LEASE: Duration = Duration::from_secs(30);

static INSTANCES: AtomicUsize = AtomicUsize::new(0);

/// The queues one process works, before it starts.
pub struct WorkerSet {
    ctx: AppContext,
    services: Services,
    monitor: Monitor,
    /// Each queue's full name and how long its finished jobs are kept (seconds).
    queues: Vec<(String, u64)>,
    /// Each queue's full name and the pause flag its worker obeys.
    switches: Vec<(String, PauseSwitch)>,
    /// Tallies of this process's jobs, flushed to Redis by the housekeeping.
    stats: JobStats,
    instance: String,
    /// What the console's workers page shows of this process.
    info: WorkerInfo,
}

impl WorkerSet {
    /// An empty set for this process.
    ///
    /// # Errors
    /// When the context has no services.
    pub fn new(ctx: &AppContext) -> Result<Self> {
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        let n = INSTANCES.fetch_add(1, Ordering::Relaxed);
        let instance = format!("{host}-{}-{n}", std::process::id());
        Ok(Self {
            info: WorkerInfo::of_this_process(&instance, &host),
            ctx: ctx.clone(),
            services: Services::of(ctx)?,
            monitor: Monitor::new(),
            queues: Vec::new(),
            switches: Vec::new(),
            stats: JobStats::default(),
            // Live worker names must be unique in Redis: two processes on one
            // machine differ by pid, two sets in one process by `n`.
            instance,
        })
    }

    /// Adds a worker for `J`'s queue with the queue's configured behaviour.
    #[must_use]
    pub fn add<J: Job>(mut self) -> Self {
        let settings = &self.services.settings;
        let queue_settings = J::settings(settings);
        let name = queue::full_name(settings, J::QUEUE);
        let storage = queue::storage::<J>(
            self.services.redis.clone(),
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
        // Shared, not copied: apalis clones its data into every task and again
        // out of it, and an AppContext clone copies the whole configuration.
        let ctx = Arc::new(self.ctx.clone());
        let instance = self.instance.clone();
        let switch = PauseSwitch::default();
        let job_stats = self.stats.clone();
        self.switches.push((name.clone(), switch.clone()));
        self.monitor = self.monitor.register(move |restarts| {
            // A restarted worker takes a new name: apalis refuses a name still
            // within its heartbeat threshold.
            WorkerBuilder::new(format!("{instance}-{}-r{restarts}", J::QUEUE))
                .backend(
                    Pausable::new(storage.clone(), switch.clone(), poll).poll_with_interval(poll),
                )
                .data(Arc::clone(&ctx))
                .data(queue_settings)
                .data(job_stats.clone())
                .catch_panic()
                .concurrency(queue_settings.concurrency)
                .retry(RetryPolicy::retries(queue_settings.retries).with_backoff(backoff.clone()))
                .build(handle::<J>)
        });
        let keep_done = queue_settings.keep_done_secs(&settings.apalis);
        self.queues.push((name, keep_done));
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
        let mut redis = self.services.redis.clone();
        for (name, _) in &self.queues {
            scripts::promote_due(&mut redis, name)
                .await
                .map_err(|e| Error::string(&format!("queue {name}: {e}")))?;
        }
        // A paused queue fetches nothing, not even before the first check.
        refresh_pauses(&mut redis, &self.switches)
            .await
            .map_err(|e| Error::string(&format!("reading paused queues: {e}")))?;
        let names: Vec<String> = self.queues.iter().map(|(name, _)| name.clone()).collect();
        let housekeeping = tokio::spawn(housekeeping(
            self.services.clone(),
            self.queues,
            self.switches.clone(),
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
        let mut stats_redis = self.services.redis.clone();
        let prefix = self.services.settings.redis.prefix.clone();
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
        tracing::info!(instance = %self.instance, queues = ?names, "workers started");
        Ok(WorkerProcess {
            stop: stop_tx,
            tasks: Mutex::new(vec![run, housekeeping]),
            queues: names,
            switches: self.switches,
        })
    }
}

/// Running workers; [`WorkerProcess::stop`] drains them.
pub struct WorkerProcess {
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    queues: Vec<String>,
    switches: Vec<(String, PauseSwitch)>,
}

impl WorkerProcess {
    /// Starts every product queue in this process and keeps the handle for shutdown.
    ///
    /// # Errors
    /// When the workers cannot start.
    pub async fn spawn(ctx: &AppContext) -> Result<()> {
        let process = super::register_all(WorkerSet::new(ctx)?).start().await?;
        let recovery = tokio::spawn(recovery_loop(ctx.clone(), process.stop.subscribe()));
        let figures = tokio::spawn(kpi_loop(ctx.clone(), process.stop.subscribe()));
        let heal = tokio::spawn(heal_loop(ctx.clone(), process.stop.subscribe()));
        if let Ok(mut tasks) = process.tasks.lock() {
            tasks.extend([recovery, figures, heal]);
        }
        ctx.shared_store.insert(Arc::new(process));
        Ok(())
    }

    /// Drains the workers started by [`Self::spawn`], if any.
    pub async fn shutdown(ctx: &AppContext) {
        if let Some(process) = ctx.shared_store.get::<Arc<Self>>() {
            process.stop().await;
        }
    }

    /// Full Redis names of the queues worked here.
    #[must_use]
    pub fn queues(&self) -> &[String] {
        &self.queues
    }

    /// Fetches the worker of the queue named `name` (prefix included) skipped
    /// because the queue was paused; `None` when this process does not work it.
    #[must_use]
    pub fn skipped_fetches(&self, name: &str) -> Option<u64> {
        self.switches
            .iter()
            .find(|(queue, _)| queue == name)
            .map(|(_, switch)| switch.skipped_fetches())
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
    services: Services,
    queues: Vec<(String, u64)>,
    switches: Vec<(String, PauseSwitch)>,
    job_stats: JobStats,
    instance: String,
    mut info: WorkerInfo,
    mut stop: watch::Receiver<bool>,
) {
    let mut redis = services.redis.clone();
    let mut promote = tokio::time::interval(PROMOTE_EVERY);
    let mut reap = tokio::time::interval(REAP_EVERY);
    let mut watch = tokio::time::interval(WATCH_EVERY);
    let mut pauses = tokio::time::interval(pause::CHECK_EVERY);
    let mut flush = tokio::time::interval(stats::FLUSH_EVERY);
    let names: Vec<String> = queues.iter().map(|(name, _)| name.clone()).collect();
    let apalis = &services.settings.apalis;
    let mut beat = tokio::time::interval(Duration::from_secs(apalis.heartbeat_secs.max(1)));
    let stale_after = watchdog::stale_after_secs(apalis.heartbeat_secs, apalis.missed_heartbeats);
    let prefix = services.settings.redis.prefix.as_str();
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
                        tracing::error!(
                            ?stalled,
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
                if let Err(e) = refresh_pauses(&mut redis, &switches).await {
                    tracing::warn!(error = %e, "reading paused queues failed; workers keep their last state");
                }
            }
            _ = promote.tick() => {
                for (name, _) in &queues {
                    if let Err(e) = scripts::promote_due(&mut redis, name).await {
                        tracing::warn!(queue = %name, error = %e, "promoting due jobs failed");
                    }
                }
            }
            _ = reap.tick() => {
                for (name, keep_done) in &queues {
                    // A queue that keeps nothing deletes without reading finish times.
                    let cutoff = (*keep_done > 0)
                        .then(|| scripts::unix_now().saturating_sub(*keep_done));
                    // Dead jobs are kept for inspection and retry; only `done` is trimmed.
                    if let Err(e) = scripts::reap_expired(&mut redis, name, "done", cutoff).await {
                        tracing::warn!(queue = %name, error = %e, "trimming finished jobs failed");
                    }
                }
            }
        }
    }
}

/// Reads the pause flag of every queue of `switches` and hands it to its worker.
async fn refresh_pauses(
    redis: &mut redis::aio::ConnectionManager,
    switches: &[(String, PauseSwitch)],
) -> redis::RedisResult<()> {
    let names: Vec<String> = switches.iter().map(|(name, _)| name.clone()).collect();
    let paused = pause::read_paused(redis, &names).await?;
    for ((name, switch), paused) in switches.iter().zip(paused) {
        if switch.is_paused() != paused {
            tracing::info!(queue = %name, paused, "queue pause flag changed");
        }
        switch.set(paused);
    }
    Ok(())
}

/// Applies committed KPI events to Redis (the outbox drain) several times a second.
/// When Redis is unreachable the events wait in the database and go on the next tick.
async fn kpi_loop(ctx: AppContext, mut stop: watch::Receiver<bool>) {
    let Ok(services) = Services::of(&ctx) else {
        return;
    };
    let mut every = tokio::time::interval(KPI_DRAIN_EVERY);
    loop {
        tokio::select! {
            () = stop_requested(&mut stop) => return,
            _ = every.tick() => drain_if_free(&ctx, &services).await,
        }
    }
}

/// One drain, unless another worker process is draining. Two drainers would read
/// the same events, apply them twice (the second time a no-op in Redis) and wait
/// on each other's row locks marking them: measured, every event was marked twice
/// with two worker processes.
async fn drain_if_free(ctx: &AppContext, services: &Services) {
    let lease = match Lease::acquire(services, "kpi-drain", KPI_DRAIN_LEASE).await {
        Ok(Some(lease)) => lease,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "KPI drain lease unavailable; events stay queued in the database");
            return;
        }
    };
    let drained =
        crate::models::kpi::drain(&ctx.db, &services.redis, &services.settings.redis.prefix).await;
    if let Err(e) = drained {
        tracing::warn!(error = %e, "applying KPI events failed; they stay queued in the database");
    }
    if let Err(e) = lease.release().await {
        tracing::warn!(error = %e, "releasing the KPI drain lease failed; it expires");
    }
}

/// Checks on every heartbeat (and at start) whether Redis lost its data, and
/// heals it when no other process does (see `heal`).
async fn heal_loop(ctx: AppContext, mut stop: watch::Receiver<bool>) {
    let Ok(services) = Services::of(&ctx) else {
        return;
    };
    let every = Duration::from_secs(services.settings.apalis.heartbeat_secs.max(1));
    let mut beat = tokio::time::interval(every);
    loop {
        tokio::select! {
            () = stop_requested(&mut stop) => return,
            _ = beat.tick() => {
                if let Err(e) = super::heal::heal_if_lost(&ctx).await {
                    tracing::warn!(error = %format!("{e:#}"), "healing Redis failed; trying again next heartbeat");
                }
            }
        }
    }
}

/// Runs the recovery sweep at start and then every `stuck_after / 2`.
async fn recovery_loop(ctx: AppContext, mut stop: watch::Receiver<bool>) {
    let Ok(services) = Services::of(&ctx) else {
        return;
    };
    let stuck_after = Duration::from_secs(services.settings.workflow.stuck_after_secs);
    let mut every = tokio::time::interval((stuck_after / 2).max(Duration::from_secs(5)));
    loop {
        tokio::select! {
            () = stop_requested(&mut stop) => return,
            _ = every.tick() => {
                if let Err(e) = crate::models::workflow::recovery::sweep(&ctx, stuck_after).await {
                    tracing::warn!(error = %e, "recovery sweep failed");
                }
            }
        }
    }
}

/// Resolves once [`WorkerProcess::stop`] was called (or its handle dropped).
async fn stop_requested(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}
