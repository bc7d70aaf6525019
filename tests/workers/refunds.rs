//! The refund job: outcomes, exactly-once effects, declines, the worker, recovery.
use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use axum::http::StatusCode;
use orders_flow::{
    models::{
        _entities::{kpi_events, order_notifications, refunds as refund_rows},
        workflow::gateway::{Charge, ChargeOutcome, GatewayError, PaymentGateway},
    },
    queue::{JobError, NotificationJob, RefundJob},
    workers::{recovery, refund, register_all, worker_set, Services},
};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::support::{
    eventually,
    refunds::{boot, boot_with_refund_rate, order, post, refunds_of},
    seed, TestApp,
};

/// Asks for a refund over HTTP and returns its id.
async fn refund(app: &TestApp, order: &str, key: &str, cents: i64) -> i64 {
    let response = post(
        &app.server(),
        order,
        Some(key),
        &format!(r#"{{"amount_cents": {cents}}}"#),
    )
    .await;
    response.assert_status(StatusCode::ACCEPTED);
    response.json::<serde_json::Value>()["refund_id"]
        .as_i64()
        .expect("refund id")
}

async fn refund_row(app: &TestApp, id: i64) -> refund_rows::Model {
    refund_rows::Entity::find_by_id(id)
        .one(&app.ctx().db)
        .await
        .unwrap()
        .unwrap()
}

async fn kpi_events_of(app: &TestApp, order_id: i64, kind: &str) -> Vec<kpi_events::Model> {
    kpi_events::Entity::find()
        .filter(kpi_events::Column::OrderId.eq(order_id))
        .filter(kpi_events::Column::Kind.eq(kind))
        .all(&app.ctx().db)
        .await
        .unwrap()
}

async fn notifications_of(app: &TestApp, order_id: i64) -> Vec<order_notifications::Model> {
    order_notifications::Entity::find()
        .filter(order_notifications::Column::OrderId.eq(order_id))
        .all(&app.ctx().db)
        .await
        .unwrap()
}

/// Everything a refund job may write, to compare runs.
async fn effects(app: &TestApp, order_id: i64) -> (String, i64, i64, usize, usize) {
    let order = order(app, order_id).await;
    (
        order.status.to_string(),
        order.refunded_cents,
        order.refund_reserved_cents,
        kpi_events_of(app, order_id, "refund_processed").await.len(),
        notifications_of(app, order_id).await.len(),
    )
}

#[tokio::test]
async fn partial_partial_rest_makes_the_order_refunded() {
    let app = boot().await;
    let paid = seed::paid_order(app.ctx(), "ORD-1", 10_000).await;
    let mut statuses = Vec::new();
    for (key, cents) in [("a", 2_500), ("b", 4_000), ("c", 3_500)] {
        let id = refund(&app, "ORD-1", key, cents).await;
        refund::process(&app.jobs(), id).await.unwrap();
        let after = order(&app, paid.id).await;
        statuses.push((after.status.to_string(), after.refunded_cents));
        assert_eq!(refund_row(&app, id).await.status.as_str(), "processed");
    }
    assert_eq!(
        statuses,
        [
            ("partially_refunded".to_string(), 2_500),
            ("partially_refunded".to_string(), 6_500),
            ("refunded".to_string(), 10_000),
        ]
    );

    let events = kpi_events_of(&app, paid.id, "refund_processed").await;
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(events.len(), 3);
    assert!(events
        .iter()
        .all(|e| e.day == today && e.refund_id.is_some() && e.customer_id == paid.customer_id));
    assert_eq!(
        events.iter().map(|e| e.revenue_delta_cents).sum::<i64>(),
        -10_000,
        "revenue down by what was refunded"
    );
    assert_eq!(
        kpi_events_of(&app, paid.id, "order_paid").await.len(),
        1,
        "a refund never touches order_count"
    );
    let notes = notifications_of(&app, paid.id).await;
    let mut events: Vec<_> = notes.iter().map(|n| n.event.clone()).collect();
    events.sort();
    let ids: Vec<i64> = refunds_of(&app, paid.id)
        .await
        .iter()
        .map(|r| r.id)
        .collect();
    let mut expected: Vec<String> = ids.iter().map(|id| format!("refund:{id}")).collect();
    expected.push("paid".to_string());
    expected.sort();
    assert_eq!(events, expected, "one notification per refund");
    let last = notes
        .iter()
        .find(|n| n.event == format!("refund:{}", ids[2]))
        .unwrap();
    let payload: serde_json::Value = serde_json::from_str(&last.payload).unwrap();
    insta::assert_json_snapshot!("refund_notification_payload", payload, { ".internal_order_id" => "[id]", ".refund_id" => "[id]" });
    let queued = app
        .services()
        .queue::<NotificationJob>()
        .counts()
        .await
        .unwrap();
    assert_eq!(queued.pending, 4, "paid + three refunds");
}

#[tokio::test]
async fn a_full_refund_in_one_go_works() {
    // A seed system counted the pending refund against itself and refused this.
    let app = boot().await;
    let paid = seed::paid_order(app.ctx(), "ORD-1", 19_999).await;
    let id = refund(&app, "ORD-1", "all", 19_999).await;
    refund::process(&app.jobs(), id).await.unwrap();
    let after = order(&app, paid.id).await;
    assert_eq!(
        (
            after.status.as_str(),
            after.refunded_cents,
            after.refund_reserved_cents
        ),
        ("refunded", 19_999, 19_999)
    );
}

#[tokio::test]
async fn running_the_refund_job_again_changes_nothing() {
    let app = boot().await;
    let first = seed::paid_order(app.ctx(), "ORD-SEQ", 10_000).await;
    let second = seed::paid_order(app.ctx(), "ORD-CON", 10_000).await;

    let sequential = refund(&app, "ORD-SEQ", "seq", 3_000).await;
    refund::process(&app.jobs(), sequential).await.unwrap();
    let once = effects(&app, first.id).await;
    refund::process(&app.jobs(), sequential).await.unwrap();
    assert_eq!(effects(&app, first.id).await, once);
    assert_eq!(once, ("partially_refunded".to_string(), 3_000, 3_000, 1, 2));

    let concurrent = refund(&app, "ORD-CON", "con", 10_000).await;
    let runs = (0..8).map(|_| {
        let ctx = app.jobs();
        tokio::spawn(async move { refund::process(&ctx, concurrent).await })
    });
    for run in futures::future::join_all(runs).await {
        run.unwrap().unwrap();
    }
    assert_eq!(
        effects(&app, second.id).await,
        ("refunded".to_string(), 10_000, 10_000, 1, 2)
    );
}

#[tokio::test]
async fn a_declined_refund_releases_the_amount() {
    let app = boot_with_refund_rate(0.0).await;
    let paid = seed::paid_order(app.ctx(), "ORD-1", 10_000).await;
    let id = refund(&app, "ORD-1", "declined", 10_000).await;
    refund::process(&app.jobs(), id).await.unwrap();
    refund::process(&app.jobs(), id).await.unwrap();

    let failed = refund_row(&app, id).await;
    assert_eq!(
        (failed.status.as_str(), failed.failure_reason.as_deref()),
        ("failed", Some("refund_declined"))
    );
    assert_eq!(
        effects(&app, paid.id).await,
        ("paid".to_string(), 0, 0, 0, 2),
        "released once, revenue untouched, one notification"
    );
    let note = notifications_of(&app, paid.id)
        .await
        .into_iter()
        .find(|n| n.event == format!("refund:{id}"))
        .unwrap();
    assert!(note.payload.contains("refund_declined"));
    // The amount is free again.
    refund(&app, "ORD-1", "again", 10_000).await;
}

/// Charges fine, cannot refund (the trait's default): a gateway error, not a decline.
struct NoRefunds;

#[async_trait]
impl PaymentGateway for NoRefunds {
    fn name(&self) -> &'static str {
        "no-refunds"
    }

    async fn charge(&self, charge: &Charge) -> Result<ChargeOutcome, GatewayError> {
        Ok(ChargeOutcome::Approved {
            reference: format!("ok-{}", charge.order_id),
        })
    }
}

#[tokio::test]
async fn a_gateway_error_leaves_the_refund_pending_for_a_retry() {
    let app = boot().await;
    let paid = seed::paid_order(app.ctx(), "ORD-1", 10_000).await;
    let id = refund(&app, "ORD-1", "k", 1_000).await;
    app.ctx().shared_store.insert(Services {
        gateway: Arc::new(NoRefunds),
        ..app.services()
    });
    let outcome = refund::process(&app.jobs(), id).await;
    assert!(matches!(outcome, Err(JobError::Retry(_))), "{outcome:?}");
    assert_eq!(refund_row(&app, id).await.status.as_str(), "pending");
    assert_eq!(
        effects(&app, paid.id).await,
        ("paid".to_string(), 0, 1_000, 0, 1)
    );
}

#[tokio::test]
async fn refund_jobs_run_on_the_product_workers() {
    let app = boot().await;
    let paid = seed::paid_order(app.ctx(), "ORD-1", 10_000).await;
    let id = refund(&app, "ORD-1", "k", 10_000).await;
    let workers = register_all(worker_set(&app.jobs())).start().await.unwrap();
    eventually(
        "the refund to be processed",
        Duration::from_secs(30),
        || async { (refund_row(&app, id).await.status.as_str() == "processed").then_some(()) },
    )
    .await;
    workers.stop().await;
    assert_eq!(order(&app, paid.id).await.status.as_str(), "refunded");
}

#[tokio::test]
async fn the_sweep_requeues_lost_refunds_and_purges_expired_keys() {
    let app = boot().await;
    let paid = seed::paid_order(app.ctx(), "ORD-1", 10_000).await;
    let id = refund(&app, "ORD-1", "k", 4_000).await;
    // Redis lost the queue.
    let mut redis = app.redis().await;
    let _: () = redis::cmd("DEL")
        .arg(app.redis_key("refunds:active"))
        .query_async(&mut redis)
        .await
        .unwrap();
    let queue = app.services().queue::<RefundJob>();
    assert_eq!(queue.counts().await.unwrap().pending, 0);
    orders_flow::models::_entities::idempotency_keys::Entity::update_many()
        .col_expr(
            orders_flow::models::_entities::idempotency_keys::Column::ExpiresAt,
            Expr::value((chrono::Utc::now() - chrono::Duration::seconds(1)).fixed_offset()),
        )
        .exec(&app.ctx().db)
        .await
        .unwrap();

    let report = recovery::sweep(&app.jobs(), Duration::ZERO).await.unwrap();
    assert_eq!((report.refunds_requeued, report.keys_purged), (1, 1));
    assert_eq!(queue.counts().await.unwrap().pending, 1);
    let keys = orders_flow::models::_entities::idempotency_keys::Entity::find()
        .count(&app.ctx().db)
        .await
        .unwrap();
    assert_eq!(keys, 0);

    let workers = worker_set(&app.jobs())
        .add::<RefundJob>()
        .start()
        .await
        .unwrap();
    eventually(
        "the refund to be processed",
        Duration::from_secs(30),
        || async { (refund_row(&app, id).await.status.as_str() == "processed").then_some(()) },
    )
    .await;
    workers.stop().await;
    assert_eq!(
        effects(&app, paid.id).await,
        ("partially_refunded".to_string(), 4_000, 4_000, 1, 2)
    );
}

#[tokio::test]
async fn metrics_after_refunds_match_the_database() {
    let app = boot().await;
    let mut refund_ids = Vec::new();
    for n in 0..4 {
        let paid = seed::paid_order(app.ctx(), &format!("ORD-KPI-{n}"), 10_000 + n).await;
        refund_ids.push(refund(&app, &paid.external_id, &format!("k-{n}-a"), 2_500).await);
        if n % 2 == 0 {
            // A full refund of the rest on every other order.
            refund_ids.push(refund(&app, &paid.external_id, &format!("k-{n}-b"), 7_500 + n).await);
        }
    }
    for id in refund_ids {
        refund::process(&app.jobs(), id).await.unwrap();
    }
    let s = app.services();
    let prefix = &s.settings.redis.prefix;
    crate::support::kpi_data::drain_all(&app.ctx().db, &s.redis, prefix).await;
    let diffs = orders_flow::models::kpi::verify(&app.ctx().db, &s.redis, prefix)
        .await
        .unwrap();
    assert!(diffs.is_empty(), "{diffs:?}");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let figures = orders_flow::models::kpi::figures::read_day(&s.redis, prefix, &today)
        .await
        .unwrap();
    assert_eq!(
        (figures.refund_count, figures.refunded_cents),
        (6, 4 * 2_500 + 7_500 + 7_502)
    );
}
