//! Boots the real app against a real database and real Redis, isolated per test:
//! a fresh database (PostgreSQL when `DATABASE_URL` says so, SQLite otherwise) and
//! a fresh Redis key prefix, both removed when the [`TestApp`] is dropped.
#![allow(dead_code)]
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum_test::TestServer;
use loco_rs::{
    app::{AppContext, Hooks},
    boot::{BootResult, StartMode},
    config::Config,
    environment::Environment,
};
use orders_flow::{
    app::App,
    workers::{JobContext, Services},
};

pub mod batch_rows;
pub mod browser;
pub mod dead_jobs;
pub mod gateways;
pub mod imports;
pub mod jobs;
pub mod kpi_data;
pub mod refunds;
pub mod seed;
pub mod servers;
pub mod shop;
pub mod smtp;
mod test_db;

use test_db::TestDb;

pub struct TestApp {
    pub boot: BootResult,
    pub prefix: String,
    pub database_url: String,
    test_db: TestDb,
}

impl TestApp {
    /// Boots the app (web server mode, no workers) on its own database and prefix.
    pub async fn boot() -> Self {
        Self::boot_with(|_| {}).await
    }

    /// Like [`Self::boot`], with a chance to change the `settings:` block first.
    pub async fn boot_with(tweak: impl FnOnce(&mut serde_json::Value)) -> Self {
        Self::boot_config(|config| tweak(config.settings.as_mut().expect("settings block"))).await
    }

    /// Like [`Self::boot`], with a chance to change the whole Loco config first
    /// (the mailer, say). The Redis prefix and the database are set afterwards.
    pub async fn boot_config(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::try_boot_config(tweak).await.expect("boot")
    }

    /// Like [`Self::boot_config`], returning the error of a boot that fails.
    pub async fn try_boot_config(tweak: impl FnOnce(&mut Config)) -> loco_rs::Result<Self> {
        let mut config = App::load_config(&Environment::Test)
            .await
            .expect("test config");
        tweak(&mut config);
        let prefix = format!("orders-flow:test:{}", uuid::Uuid::new_v4().simple());
        let settings = config.settings.as_mut().expect("settings block");
        settings["redis"]["prefix"] = serde_json::json!(prefix);
        let test_db = TestDb::create(&config.database.uri).await;
        config.database.uri = test_db.url.clone();
        let database_url = config.database.uri.clone();
        let boot = App::boot(StartMode::ServerOnly, &Environment::Test, config).await;
        let boot = match boot {
            Ok(boot) => boot,
            Err(e) => {
                delete_prefix(&prefix);
                test_db.remove();
                return Err(e);
            }
        };
        // What a worker process does on its first heartbeat: a fresh prefix is
        // a Redis without data. Healing an empty database marks the figures
        // whole, so that the metrics do not say "rebuilding" in every test.
        let healed = match JobContext::of(&boot.app_context) {
            Ok(cx) => orders_flow::workers::heal::heal_if_lost(&cx).await,
            Err(e) => Err(e.into()),
        };
        if let Err(e) = healed {
            delete_prefix(&prefix);
            test_db.remove();
            return Err(loco_rs::Error::string(&format!(
                "healing the fresh prefix: {e:#}"
            )));
        }
        Ok(Self {
            boot,
            prefix,
            database_url,
            test_db,
        })
    }

    pub fn ctx(&self) -> &AppContext {
        &self.boot.app_context
    }

    pub fn services(&self) -> Services {
        Services::of(self.ctx()).expect("services")
    }

    /// What jobs are handed, built from the services installed now: a test
    /// that replaces the gateway does so before it builds this.
    pub fn jobs(&self) -> Arc<JobContext> {
        JobContext::of(self.ctx()).expect("job context")
    }

    /// An HTTP client on the real router (no socket).
    pub fn server(&self) -> TestServer {
        let router = self.boot.router.clone().expect("router");
        TestServer::new(router.into_make_service()).expect("test server")
    }

    /// An HTTP client talking to the app over a real socket (a random local
    /// port), keeping no cookies: tests send the ones they mean to.
    pub fn http_server(&self) -> TestServer {
        let router = self.boot.router.clone().expect("router");
        TestServer::builder()
            .http_transport()
            .do_not_save_cookies()
            .build(router.into_make_service())
            .expect("http test server")
    }

    pub fn redis_key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.prefix)
    }

    pub async fn redis(&self) -> redis::aio::ConnectionManager {
        self.services().redis
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        delete_prefix(&self.prefix);
        self.test_db.remove();
    }
}

/// For [`TestApp::boot_config`]: a SQLite database whatever `DATABASE_URL` the
/// suite runs with (for what only SQLite does).
pub fn on_sqlite(config: &mut Config) {
    config.database.uri = "sqlite://orders-flow_test.sqlite?mode=rwc".into();
}

/// Removes every Redis key under `prefix` (blocking client: runs inside `Drop`).
pub fn delete_prefix(prefix: &str) {
    let Ok(client) = redis::Client::open(redis_url()) else {
        return;
    };
    let Ok(mut conn) = client.get_connection() else {
        return;
    };
    // SCAN, not KEYS: KEYS blocks a shared Redis that holds millions of keys.
    let keys: Vec<String> = redis::TypedCommands::scan_match(&mut conn, format!("{prefix}:*"))
        .map(|iter| iter.filter_map(Result::ok).collect())
        .unwrap_or_default();
    for chunk in keys.chunks(500) {
        let _: redis::RedisResult<()> = redis::cmd("DEL").arg(chunk).query(&mut conn);
    }
    // apalis-redis also lists every queue it ever saw in one global sorted set.
    const QUEUE_LIST: &str = "core:apalis:queues:list";
    let listed: Vec<String> = redis::cmd("ZRANGE")
        .arg(QUEUE_LIST)
        .arg(0)
        .arg(-1)
        .query(&mut conn)
        .unwrap_or_default();
    let under_prefix = format!("{prefix}:");
    let ours: Vec<&String> = listed
        .iter()
        .filter(|queue| queue.starts_with(&under_prefix))
        .collect();
    if !ours.is_empty() {
        let _: redis::RedisResult<()> = redis::cmd("ZREM")
            .arg(QUEUE_LIST)
            .arg(ours)
            .query(&mut conn);
    }
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

/// Polls `check` until it returns `Some`, failing the test after `limit`.
/// Waiting for a condition, not for time: it returns as soon as the work is done.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
