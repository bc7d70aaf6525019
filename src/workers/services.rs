//! Shared handles, built once per process in `after_context`.
use std::{future::Future, sync::Arc, time::Duration};

use loco_rs::{app::AppContext, Error, Result};
use redis::aio::ConnectionManager;

use super::context::{Batcher, JobContext, LogBatcher};
use crate::{
    models::{
        refunds::{RefundBatcher, RefundDesk},
        workflow::gateway::{FakeGateway, PaymentGateway},
    },
    queue::{Job, JobQueue, Queues, RefundJob},
    settings::{RefundSettings, Settings},
};

/// What controllers and tasks need beyond the database; jobs get theirs from
/// it once per process ([`super::JobContext`]).
#[derive(Clone)]
pub struct Services {
    pub settings: Arc<Settings>,
    /// Auto-reconnecting connection shared by queues and figures.
    pub redis: ConnectionManager,
    /// The web routes' connection: short timeouts and no reconnect back-off, so
    /// that a request fails fast while Redis is down (see [`Self::web`]).
    pub web_redis: ConnectionManager,
    /// Where charges go; the built-in fake unless replaced (tests do, before
    /// they build the jobs' context).
    pub gateway: Arc<dyn PaymentGateway>,
    /// Groups this process's refund requests into batches.
    pub refund_batcher: Arc<RefundBatcher>,
}

impl Services {
    /// Validates the settings, connects to Redis and stores the result in `ctx.shared_store`.
    ///
    /// # Errors
    /// Invalid settings, or Redis unreachable at start-up.
    pub async fn install(ctx: &AppContext) -> Result<()> {
        let settings = Settings::of(ctx)?;
        let redis = connect(&settings.redis.url).await.map_err(|e| {
            Error::string(&format!(
                "cannot reach Redis at {} ({e}); start it (see README) or set REDIS_URL",
                settings.redis.url
            ))
        })?;
        let web_redis = connect_web(&settings.redis.url, settings.redis.web).map_err(|e| {
            Error::string(&format!("invalid Redis URL {} ({e})", settings.redis.url))
        })?;
        let settings = Arc::new(settings);
        ctx.shared_store.insert(Self {
            web_redis,
            gateway: Arc::new(FakeGateway::new(&settings.payment)),
            refund_batcher: Arc::new(RefundBatcher::default()),
            settings,
            redis,
        });
        Ok(())
    }

    /// The services of a booted app.
    ///
    /// # Errors
    /// When called on a context that `after_context` did not prepare.
    pub fn of(ctx: &AppContext) -> Result<Self> {
        ctx.shared_store
            .get::<Self>()
            .ok_or_else(|| Error::string("services not installed: App::after_context did not run"))
    }

    /// The services of a booted app for a web handler: the same, with the web
    /// side's fail-fast connection as `redis`.
    ///
    /// # Errors
    /// When called on a context that `after_context` did not prepare.
    pub fn web(ctx: &AppContext) -> Result<Self> {
        Self::of(ctx).map(|s| Self {
            redis: s.web_redis.clone(),
            ..s
        })
    }

    /// The queues' handle, on this connection.
    #[must_use]
    pub fn queues(&self) -> Queues {
        Queues {
            redis: self.redis.clone(),
            settings: Arc::clone(&self.settings),
        }
    }

    /// The push side of `J`'s queue.
    #[must_use]
    pub fn queue<J: Job>(&self) -> JobQueue<J> {
        self.queues().queue::<J>()
    }
}

impl RefundDesk for Services {
    fn refund_settings(&self) -> RefundSettings {
        self.settings.refunds
    }

    fn batcher(&self) -> &RefundBatcher {
        &self.refund_batcher
    }

    fn queue_refunds(
        &self,
        refund_ids: Vec<i64>,
        wait: Duration,
    ) -> impl Future<Output = Result<(), String>> + Send {
        let queue = self.queue::<RefundJob>();
        let jobs = refund_ids
            .into_iter()
            .map(|refund_id| RefundJob { refund_id })
            .collect();
        async move {
            queue
                .push_bulk_within(jobs, wait)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    }
}

impl JobContext {
    /// A context over `app` and the `services` it was booted with, with batchers
    /// of its own: build it once per process.
    #[must_use]
    pub fn new(app: &AppContext, services: &Services) -> Arc<Self> {
        let batches = services.settings.workflow.batches_in_flight;
        Arc::new(Self {
            app: app.clone(),
            queues: services.queues(),
            gateway: Arc::clone(&services.gateway),
            batcher: Arc::new(Batcher::concurrent(batches)),
            log_batcher: Arc::new(LogBatcher::default()),
        })
    }

    /// [`Self::new`] with the services of a booted app: the one lookup a
    /// process makes where its work starts (Loco hands hooks and tasks only
    /// the `AppContext`).
    ///
    /// # Errors
    /// When `after_context` did not install the services.
    pub fn of(app: &AppContext) -> Result<Arc<Self>> {
        Ok(Self::new(app, &Services::of(app)?))
    }
}

/// A reconnecting connection. Replies may take a while when the machine is busy
/// (redis-rs gives up after 500 ms by default): 5 s before an error.
async fn connect(url: &str) -> redis::RedisResult<ConnectionManager> {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_response_timeout(Some(std::time::Duration::from_secs(5)))
        .set_connection_timeout(Some(std::time::Duration::from_secs(5)));
    redis::Client::open(url)?
        .get_connection_manager_with_config(config)
        .await
}

/// The web side's connection, opened on first use. No retries inside the
/// manager: a request that finds Redis down fails at once and the next one
/// tries a fresh connection (a back-off there held requests for seconds).
fn connect_web(
    url: &str,
    limits: crate::settings::WebRedisSettings,
) -> redis::RedisResult<ConnectionManager> {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_number_of_retries(0)
        .set_response_timeout(Some(limits.command_timeout()))
        .set_connection_timeout(Some(limits.connect_timeout()));
    ConnectionManager::new_lazy_with_config(redis::Client::open(url)?, config)
}
