use std::path::Path;

use async_trait::async_trait;
use loco_rs::{
    app::{AppContext, Hooks, Initializer},
    bgworker::Queue,
    boot::{create_app, BootResult, StartMode},
    config::Config,
    controller::{
        middleware::{MiddlewareLayer, MiddlewareStackExt},
        AppRoutes,
    },
    environment::Environment,
    task::Tasks,
    Result,
};
use migration::Migrator;
use sea_orm::DatabaseBackend;

use crate::{
    cli_args::{self, StartRole},
    controllers, initializers, models, tasks, workers,
};

pub struct App;

#[async_trait]
impl Hooks for App {
    fn app_name() -> &'static str {
        env!("CARGO_CRATE_NAME")
    }

    fn app_version() -> String {
        crate::version::app_version()
    }

    async fn boot(
        mode: StartMode,
        environment: &Environment,
        config: Config,
    ) -> Result<BootResult> {
        create_app::<Self, Migrator>(mode, environment, config).await
    }

    /// Validates the settings once and shares the Redis handles (queues, figures)
    /// with every controller, task and job through `ctx.shared_store`.
    /// On SQLite, the pool is first opened again so that every connection runs
    /// the configured PRAGMAs, not only the first ([`models::sqlite_pool`]).
    async fn after_context(mut ctx: AppContext) -> Result<AppContext> {
        if ctx.db.get_database_backend() == DatabaseBackend::Sqlite {
            let pool = models::sqlite_pool::reconnect(&ctx.config.database).await?;
            std::mem::replace(&mut ctx.db, pool).close().await?;
        }
        workers::Services::install(&ctx).await?;
        controllers::auth::Access::install(&ctx, &workers::Services::of(&ctx)?)?;
        // From here on the typed copy in `Services` is read. The context, config
        // included, is cloned for every request (axum clones the router's state):
        // the block as one JSON string is one allocation to copy instead of a
        // tree of a few hundred (20 % of the web server's CPU under load). Loco's
        // CLI builds a second context from this config: it reads the string back.
        if let Some(block) = ctx.config.settings.take() {
            ctx.config.settings = Some(serde_json::Value::String(block.to_string()));
        }
        Ok(ctx)
    }

    /// `start --worker`, `--server-and-worker` and `--all` run the apalis workers
    /// in this process; plain `start` runs only the web server.
    async fn before_run(ctx: &AppContext) -> Result<()> {
        if cli_args::start_role() == StartRole::WithWorkers {
            workers::start::spawn(ctx).await?;
        }
        Ok(())
    }

    async fn on_shutdown(ctx: &AppContext) {
        workers::start::shutdown(ctx).await;
    }

    async fn initializers(_ctx: &AppContext) -> Result<Vec<Box<dyn Initializer>>> {
        Ok(initializers::all())
    }

    /// Loco's stack without its HTML fallback page, [`controllers::json_errors`]
    /// so that every error leaves in the one JSON shape, and outermost the
    /// request counts of `/metrics` ([`controllers::http_metrics`]).
    fn middlewares(ctx: &AppContext) -> Vec<Box<dyn MiddlewareLayer>> {
        let mut stack = loco_rs::controller::middleware::default_middleware_stack(ctx);
        stack.delete("fallback");
        stack.push(Box::new(controllers::json_errors::JsonErrors));
        // Outside the JSON reshaping: counts the status the client gets.
        stack.push(Box::new(controllers::http_metrics::CountRequests::new(ctx)));
        stack
    }

    fn routes(ctx: &AppContext) -> AppRoutes {
        use controllers::outage::guarded;
        // Loco's monitoring routes, with a readiness check that covers Redis;
        // the routes that read Redis answer 503 while it is down (outage.rs).
        AppRoutes::empty()
            .add_route(controllers::outage::monitoring_routes())
            .add_route(guarded(controllers::queues::routes(), ctx, false))
            .add_route(guarded(controllers::ops::routes(), ctx, false))
            .add_route(guarded(controllers::prometheus::routes(), ctx, false))
            .add_route(guarded(controllers::dashboard::routes(), ctx, true))
            .add_route(guarded(
                controllers::console_pages::redis_routes(),
                ctx,
                true,
            ))
            .add_route(controllers::console_pages::database_routes())
            .add_route(guarded(controllers::metrics::routes(ctx), ctx, false))
            .add_route(controllers::imports::routes())
            .add_route(controllers::orders::routes())
            .add_route(controllers::refunds::routes())
            .add_route(controllers::console::routes())
            .add_route(controllers::openapi::routes())
    }

    /// Loco's own job system is not used: apalis workers start in `before_run`.
    async fn connect_workers(_ctx: &AppContext, _queue: &Queue) -> Result<()> {
        Ok(())
    }

    fn register_tasks(tasks: &mut Tasks) {
        tasks.register(tasks::queues_status::QueuesStatus);
        tasks.register(tasks::queues_dead::QueuesDead);
        tasks.register(tasks::queues_retry::QueuesRetry);
        tasks.register(tasks::queues_discard::QueuesDiscard);
        tasks.register(tasks::queues_pause::QueuesPause);
        tasks.register(tasks::queues_pause::QueuesResume);
        tasks.register(tasks::orders_recover::OrdersRecover);
        tasks.register(tasks::kpi::KpiRebuild);
        tasks.register(tasks::kpi::KpiVerify);
        tasks.register(tasks::orders_status::OrdersStatus);
        tasks.register(tasks::orders_check::OrdersCheck);
        tasks.register(tasks::orders_import::OrdersImport);
        tasks.register(tasks::orders_generate::OrdersGenerate);
        tasks.register(tasks::products_import::ProductsImport);
        tasks.register(tasks::orders_refund::OrdersRefund);
        // tasks-inject (do not remove)
    }

    async fn truncate(_ctx: &AppContext) -> Result<()> {
        Ok(())
    }

    async fn seed(_ctx: &AppContext, _base: &Path) -> Result<()> {
        Ok(())
    }
}
