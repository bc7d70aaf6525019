//! The typed `settings:` block of `config/*.yaml`, read once at start-up.
use std::time::Duration;

pub mod tokens;

use loco_rs::{app::AppContext, Error, Result};
use serde::Deserialize;

use self::tokens::TokenTable;

/// Everything orders-flow reads from config beyond what Loco itself reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub redis: RedisSettings,
    pub api: ApiSettings,
    pub console: ConsoleSettings,
    pub queues: QueuesSettings,
    pub apalis: ApalisSettings,
    pub stock: StockSettings,
    pub payment: PaymentSettings,
    pub workflow: WorkflowSettings,
    pub kpi: KpiSettings,
    pub refunds: RefundSettings,
    pub notifications: NotificationSettings,
    /// Caps on what an order file may hold (optional: the defaults below).
    #[serde(default)]
    pub import: ImportSettings,
}

/// Caps on an order file's rows and cells: a row or cell over its cap is
/// rejected with its line and the reason, and memory stays bounded whatever
/// the file holds.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImportSettings {
    /// Longest row (and header) in bytes, line break excluded.
    pub max_line_bytes: usize,
    /// Longest text cell (names, e-mails, …) in characters.
    pub max_field_chars: usize,
    /// Longest id cell (order, customer, SKU) in characters.
    pub max_id_chars: usize,
}

/// Default `settings.import.max_line_bytes`.
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 * 1024;
/// Default `settings.import.max_field_chars`.
pub const DEFAULT_MAX_FIELD_CHARS: usize = 1_000;
/// Default `settings.import.max_id_chars`.
pub const DEFAULT_MAX_ID_CHARS: usize = 255;

impl Default for ImportSettings {
    fn default() -> Self {
        Self {
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_field_chars: DEFAULT_MAX_FIELD_CHARS,
            max_id_chars: DEFAULT_MAX_ID_CHARS,
        }
    }
}

/// Largest `settings.import.max_line_bytes`: a chunk's rejects and the
/// reader's buffers stay a few MiB.
pub const MAX_LINE_BYTES_LIMIT: usize = 1 << 20;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    pub url: String,
    /// Every key the app writes starts with `{prefix}:`.
    pub prefix: String,
    /// The web side's own connection (optional: the defaults below).
    #[serde(default)]
    pub web: WebRedisSettings,
}

/// The web routes' Redis connection: short limits, so that a request answers
/// 503 at once while Redis is down instead of hanging (the workers' connection
/// keeps its long ones: a busy machine must not fail their jobs).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebRedisSettings {
    /// Longest wait for a new connection.
    pub connect_timeout_ms: u64,
    /// Longest wait for one command's reply.
    pub command_timeout_ms: u64,
    /// The `Retry-After` of a 503 while Redis is unreachable.
    pub retry_after_secs: u64,
}

impl Default for WebRedisSettings {
    /// A request while Redis is down: a failed command (at most 250 ms) plus a
    /// probe (at most 150 ms) stays under 500 ms.
    fn default() -> Self {
        Self {
            connect_timeout_ms: 150,
            command_timeout_ms: 250,
            retry_after_secs: 5,
        }
    }
}

impl WebRedisSettings {
    #[must_use]
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    #[must_use]
    pub fn command_timeout(&self) -> Duration {
        Duration::from_millis(self.command_timeout_ms)
    }
}

impl RedisSettings {
    /// A key under this instance's prefix.
    #[must_use]
    pub fn key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.prefix)
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// Bearer tokens and their scopes (syntax in [`tokens`]).
    tokens: String,
    /// `GET /metrics` without a token (only behind a private bind); off, a
    /// token with the `read` scope is needed.
    #[serde(default)]
    pub metrics_open: bool,
}

impl std::fmt::Debug for ApiSettings {
    // Tokens are secrets: never print them, not even in a config dump.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiSettings")
            .field("tokens", &self.tokens())
            .field("metrics_open", &self.metrics_open)
            .finish()
    }
}

impl ApiSettings {
    /// The configured tokens with their scopes (validated at start-up).
    #[must_use]
    pub fn tokens(&self) -> TokenTable {
        TokenTable::parse(&self.tokens).unwrap_or_default()
    }
}

/// The operators' console (browser login).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSettings {
    /// Signs and encrypts session cookies: at least 32 characters of random text.
    pub secret_key: String,
    /// A session ends this long after login.
    pub session_ttl_secs: u64,
    /// Cookies only over HTTPS (on behind a TLS-terminating proxy).
    pub secure_cookie: bool,
}

impl std::fmt::Debug for ConsoleSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleSettings")
            .field("secret_key", &"<redacted>")
            .field("session_ttl_secs", &self.session_ttl_secs)
            .field("secure_cookie", &self.secure_cookie)
            .finish()
    }
}

/// The shortest console secret accepted (HKDF stretches it to the cookie key).
pub const MIN_SECRET_CHARS: usize = 32;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueuesSettings {
    pub import: QueueSettings,
    pub workflow: QueueSettings,
    pub notifications: QueueSettings,
    pub refunds: QueueSettings,
}

/// Per-queue worker behaviour.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSettings {
    /// Jobs of this queue run at once in one worker process.
    pub concurrency: usize,
    /// Attempts after the first one fails.
    pub retries: usize,
    /// First retry delay; doubles on every further attempt.
    pub backoff_ms: u64,
    /// One attempt is abandoned (and retried) after this long.
    pub timeout_secs: u64,
    /// Finished jobs of this queue stay in Redis this long; unset, the
    /// `apalis.keep_done_secs` default. The database keeps every order's history,
    /// so busy queues can keep their finished jobs briefly.
    #[serde(default)]
    pub keep_done_secs: Option<u64>,
}

impl QueueSettings {
    #[must_use]
    pub fn backoff(&self) -> Duration {
        Duration::from_millis(self.backoff_ms)
    }

    #[must_use]
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// How long this queue's finished jobs are kept, given the apalis default.
    #[must_use]
    pub fn keep_done_secs(&self, apalis: &ApalisSettings) -> u64 {
        self.keep_done_secs.unwrap_or(apalis.keep_done_secs)
    }
}

/// apalis-redis knobs; `config/*.yaml` explains the chosen values.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApalisSettings {
    pub fetch_batch_size: usize,
    pub poll_interval_ms: u64,
    pub lock_tasks: bool,
    pub heartbeat_secs: u64,
    pub missed_heartbeats: u32,
    pub keep_done_secs: u64,
}

impl ApalisSettings {
    /// A worker silent for longer than this is dead (heartbeat × missed beats).
    #[must_use]
    pub fn worker_ttl_secs(&self) -> u64 {
        self.heartbeat_secs * u64::from(self.missed_heartbeats.max(1))
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockSettings {
    /// Units a product gets when an import sees it for the first time.
    pub initial: i64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettings {
    /// Share of charges the fake gateway accepts, 0.0–1.0 (a probability, not money).
    pub success_rate: f64,
    /// Simulated gateway latency.
    pub latency_ms: u64,
    /// With the order id, decides every outcome: a rerun gives the same answer.
    pub seed: u64,
    /// Share of refunds the fake gateway accepts, 0.0–1.0 (decided per refund id).
    #[serde(default = "always")]
    pub refund_success_rate: f64,
}

const fn always() -> f64 {
    1.0
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSettings {
    /// A non-terminal order untouched this long is queued again by the recovery sweep.
    pub stuck_after_secs: u64,
    /// Most orders one worker process moves per transaction (1: one at a time).
    pub batch_size: usize,
    /// How long the first job of a batch waits for others to join.
    pub batch_window_ms: u64,
    /// An import pauses reading while more orders than this wait in the
    /// workflow queue (until half of them are taken), so Redis holds a bounded
    /// backlog however large the file.
    #[serde(default = "default_max_queued_orders")]
    pub max_queued_orders: u64,
    /// Batches one worker process runs at once. Across hosts a batch is mostly
    /// waiting on round trips, and the others in flight fill that wait; on one
    /// host they queue on each other's product-row locks, which costs little
    /// (BENCHMARKS.md, session 11).
    #[serde(default = "default_batches_in_flight")]
    pub batches_in_flight: usize,
}

const fn default_max_queued_orders() -> u64 {
    50_000
}

const fn default_batches_in_flight() -> usize {
    4
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpiSettings {
    /// IANA zone name used to attribute figures to days; only `UTC` for now.
    pub timezone: String,
}

/// Largest refund batch: its statements stay far below both databases' bound-parameter limits.
pub const MAX_REFUND_BATCH: usize = 1_000;

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundSettings {
    /// How long an idempotency key is remembered.
    pub key_ttl_secs: u64,
    /// Most refund requests one process accepts per transaction (1: one at a time).
    pub batch_size: usize,
    /// How long the first request of a batch waits for others to join.
    pub batch_window_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// Customers with an email address are mailed through the `mailer:` block;
    /// off, every notification goes to the `log` channel.
    pub email_enabled: bool,
    /// `From:` of notification emails, e.g. `Shop <orders@shop.example>`.
    pub from: String,
}

impl Settings {
    /// Parses and validates the `settings:` block.
    ///
    /// # Errors
    /// When the block is missing, malformed or holds an impossible value.
    pub fn from_json(value: Option<&serde_json::Value>) -> Result<Self> {
        let value = value.ok_or_else(|| Error::string("config has no `settings:` block"))?;
        let settings: Self = match value {
            // As `App::after_context` leaves it.
            serde_json::Value::String(block) => serde_json::from_str(block),
            block => serde_json::from_value(block.clone()),
        }
        .map_err(|e| Error::string(&format!("invalid `settings:` block in config: {e}")))?;
        settings.validate()?;
        Ok(settings)
    }

    /// The settings of a context (`App::after_context` keeps a typed copy in
    /// `Services`, which is what a booted app reads).
    ///
    /// # Errors
    /// When the config has no valid `settings:` block.
    pub fn of(ctx: &AppContext) -> Result<Self> {
        Self::from_json(ctx.config.settings.as_ref())
    }

    /// Whether customers with an email address are notified by email.
    #[must_use]
    pub fn notifications_email_enabled(&self) -> bool {
        self.notifications.email_enabled
    }

    fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::string(&format!("invalid setting: {what}")));
        if self.redis.prefix.is_empty() || self.redis.prefix.contains(char::is_whitespace) {
            return bad("settings.redis.prefix must be non-empty and without spaces");
        }
        let web = self.redis.web;
        if web.connect_timeout_ms == 0 || web.command_timeout_ms == 0 || web.retry_after_secs == 0 {
            return bad("settings.redis.web: connect_timeout_ms, command_timeout_ms and retry_after_secs must be at least 1");
        }
        for (name, q) in [
            ("import", &self.queues.import),
            ("workflow", &self.queues.workflow),
            ("notifications", &self.queues.notifications),
            ("refunds", &self.queues.refunds),
        ] {
            if q.concurrency == 0 || q.timeout_secs == 0 {
                return bad(&format!(
                    "settings.queues.{name}: concurrency and timeout_secs must be at least 1"
                ));
            }
        }
        if self.apalis.fetch_batch_size == 0 || self.apalis.heartbeat_secs == 0 {
            return bad("settings.apalis: fetch_batch_size and heartbeat_secs must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.payment.success_rate) {
            return bad("settings.payment.success_rate must be between 0.0 and 1.0");
        }
        if !(0.0..=1.0).contains(&self.payment.refund_success_rate) {
            return bad("settings.payment.refund_success_rate must be between 0.0 and 1.0");
        }
        if self.refunds.key_ttl_secs == 0 {
            return bad("settings.refunds.key_ttl_secs must be at least 1");
        }
        if !(1..=MAX_REFUND_BATCH).contains(&self.refunds.batch_size) {
            return bad("settings.refunds.batch_size must be between 1 and 1000");
        }
        if self.stock.initial < 0 {
            return bad("settings.stock.initial must not be negative");
        }
        if !self.notifications.from.contains('@') {
            return bad("settings.notifications.from must be an email address");
        }
        if let Err(e) = TokenTable::parse(&self.api.tokens) {
            return bad(&format!("settings.api.tokens (API_TOKENS): {e}"));
        }
        if self.console.secret_key.chars().count() < MIN_SECRET_CHARS {
            return bad(&format!(
                "settings.console.secret_key (CONSOLE_SECRET_KEY) must be at least \
                 {MIN_SECRET_CHARS} characters of random text (e.g. `openssl rand -hex 32`)"
            ));
        }
        if self.console.session_ttl_secs == 0 {
            return bad("settings.console.session_ttl_secs must be at least 1");
        }
        let import = &self.import;
        if !(256..=MAX_LINE_BYTES_LIMIT).contains(&import.max_line_bytes) {
            return bad("settings.import.max_line_bytes must be between 256 and 1048576 (bytes)");
        }
        if import.max_field_chars == 0 || import.max_field_chars > import.max_line_bytes {
            return bad("settings.import.max_field_chars must be between 1 and max_line_bytes");
        }
        if import.max_id_chars == 0 || import.max_id_chars > import.max_line_bytes {
            return bad("settings.import.max_id_chars must be between 1 and max_line_bytes");
        }
        if self.kpi.timezone != "UTC" {
            return bad("settings.kpi.timezone: only UTC is supported");
        }
        Ok(())
    }
}
