//! A retried dead job does its work: a notification that died while SMTP was
//! down is reset and mailed once, however often it is retried; a discarded
//! job leaves the dead set and its row stays as it was; a refund that died
//! while the gateway was down completes.
use std::{sync::Arc, time::Duration};

use orders_flow::{
    models::{
        _entities::{orders, refunds as refund_rows},
        order_notifications,
        statuses::NotificationStatus,
        workflow::gateway::{Charge, ChargeOutcome, GatewayError, PaymentGateway},
    },
    queue::{Job, NotificationJob, RefundJob},
    workers::{
        dead::{self, DeadJobError, OperatedQueue, RetryRequest},
        Services,
    },
};
use sea_orm::EntityTrait;
use serde_json::json;

use crate::support::{
    dead_jobs::{app_with_a_dead_notification, dead_notification},
    eventually,
    gateways::Repairable,
    jobs::start_worker,
    refunds, seed,
    smtp::{app_mailing_to, SmtpSink},
    TestApp,
};

fn notifications(app: &TestApp) -> OperatedQueue {
    OperatedQueue {
        short: NotificationJob::QUEUE,
        full: app.services().queue::<NotificationJob>().name().to_string(),
    }
}

/// The single notification row `dead_notification` created.
async fn the_row(app: &TestApp) -> order_notifications::Model {
    let rows = order_notifications::Entity::find()
        .all(&app.ctx().db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows.into_iter().next().unwrap()
}

#[tokio::test]
async fn a_notification_that_died_while_smtp_was_down_is_mailed_once_after_retry() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, 0).await;
    let workers = start_worker::<NotificationJob>(&app).await;
    let id = dead_notification(&app, &sink).await;
    let died = the_row(&app).await;
    assert_eq!(died.status, NotificationStatus::Failed);
    assert!(sink.messages().is_empty());

    sink.reject_mail_from(0);
    let server = app.server();
    let retry = "/api/queues/notifications/dead/retry";
    let retried = server
        .post(retry)
        .authorization_bearer("test-token")
        .json(&serde_json::json!({ "ids": [id] }))
        .await;
    retried.assert_status_ok();
    assert_eq!(retried.json::<serde_json::Value>()["retried"], 1);
    let sent = eventually(
        "the retried notification to be sent",
        Duration::from_secs(30),
        || async {
            let row = the_row(&app).await;
            (row.status == NotificationStatus::Sent).then_some(row)
        },
    )
    .await;
    assert!(sent.sent_at.is_some());
    assert_eq!(sent.attempts, 1, "attempts start again from 0 on a retry");
    let queue = app.services().queue::<NotificationJob>();
    let idle = || async {
        let counts = queue.counts().await.unwrap();
        (counts.pending == 0 && counts.running == 0 && counts.dead == 0).then_some(())
    };
    eventually("the job to finish", Duration::from_secs(30), idle).await;

    // Retrying again: the job is no longer dead, so nothing moves and nothing is mailed.
    let again = server
        .post(retry)
        .authorization_bearer("test-token")
        .json(&serde_json::json!({ "ids": [id] }))
        .await;
    again.assert_status_not_found();
    let all = server
        .post(retry)
        .authorization_bearer("test-token")
        .json(&serde_json::json!({ "all": true }))
        .await;
    all.assert_status_ok();
    assert_eq!(all.json::<serde_json::Value>()["retried"], 0);
    // Even a stray copy of the job (a duplicate dead entry, a redelivery) sends
    // nothing: reopening touches only `failed` rows, and sending only `queued` ones.
    let payload = serde_json::to_value(NotificationJob::one(sent.id)).unwrap();
    assert_eq!(
        dead::revive(&app.ctx().db, NotificationJob::QUEUE, &[payload])
            .await
            .unwrap(),
        0
    );
    queue.push(&NotificationJob::one(sent.id)).await.unwrap();
    eventually("the stray copy to finish", Duration::from_secs(30), idle).await;
    workers.stop().await;

    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "exactly one mail: {messages:?}");
    assert_eq!(messages[0].to, ["RCPT TO:<ada@example.com>"]);
    assert!(messages[0].unfolded().contains("O-DEAD"));
    assert_eq!(the_row(&app).await.status, NotificationStatus::Sent);
}

#[tokio::test]
async fn retry_all_reopens_and_mails_every_dead_notification() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, 0).await;
    let workers = start_worker::<NotificationJob>(&app).await;
    dead_notification(&app, &sink).await;
    workers.stop().await;
    sink.reject_mail_from(0);

    let mut conn = app.redis().await;
    let outcome = RetryRequest::All
        .run(&mut conn, &app.ctx().db, &notifications(&app))
        .await
        .unwrap();
    assert_eq!((outcome.retried, outcome.skipped), (1, 0));
    assert_eq!(
        the_row(&app).await.status,
        NotificationStatus::Queued,
        "reopened before the job runs"
    );
    let workers = start_worker::<NotificationJob>(&app).await;
    eventually(
        "the notification to be sent",
        Duration::from_secs(30),
        || async { (the_row(&app).await.status == NotificationStatus::Sent).then_some(()) },
    )
    .await;
    workers.stop().await;
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn a_discarded_dead_job_is_gone_and_its_row_stays_failed() {
    let (sink, app, id) = app_with_a_dead_notification().await;
    let before = the_row(&app).await;
    let server = app.server();
    let discard = "/api/queues/notifications/dead/discard";

    let unknown = server
        .post(discard)
        .authorization_bearer("test-token")
        .json(&serde_json::json!({ "ids": [id, "0190f0c2-0000-7000-8000-000000000000"] }))
        .await;
    unknown.assert_status_not_found();
    let queue = app.services().queue::<NotificationJob>();
    assert_eq!(
        queue.counts().await.unwrap().dead,
        1,
        "a refused discard removes nothing"
    );

    let discarded = server
        .post(discard)
        .authorization_bearer("test-token")
        .json(&serde_json::json!({ "ids": [id] }))
        .await;
    discarded.assert_status_ok();
    assert_eq!(discarded.json::<serde_json::Value>()["discarded"], 1);
    let counts = queue.counts().await.unwrap();
    assert_eq!((counts.dead, counts.pending), (0, 0));
    let mut conn = app.redis().await;
    let payload: Option<String> = redis::cmd("HGET")
        .arg(format!("{}:data", queue.name()))
        .arg(&id)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(payload, None, "the payload is gone too");
    let retried = dead::retry(&mut conn, &app.ctx().db, &notifications(&app), &[id]).await;
    assert!(
        matches!(retried, Err(DeadJobError::NotDead(_))),
        "{retried:?}"
    );
    assert_eq!(
        the_row(&app).await,
        before,
        "the row stays as the job left it"
    );
    assert!(sink.messages().is_empty());
}

/// Charges fine, cannot refund: a gateway error on every refund.
struct RefundsDown;

#[async_trait::async_trait]
impl PaymentGateway for RefundsDown {
    fn name(&self) -> &'static str {
        "refunds-down"
    }

    async fn charge(&self, charge: &Charge) -> Result<ChargeOutcome, GatewayError> {
        Ok(ChargeOutcome::Approved {
            reference: format!("ok-{}", charge.order_id),
        })
    }
}

#[tokio::test]
async fn a_refund_that_died_while_the_gateway_was_down_completes_after_retry() {
    let app = refunds::boot_with(|s| {
        s["queues"]["refunds"] =
            json!({ "concurrency": 2, "retries": 0, "backoff_ms": 10, "timeout_secs": 5 });
    })
    .await;
    let gateway = Repairable::new(Arc::new(RefundsDown), app.services().gateway);
    app.ctx().shared_store.insert(Services {
        gateway: gateway.clone(),
        ..app.services()
    });
    let paid = seed::paid_order(app.ctx(), "ORD-1", 10_000).await;
    let asked = refunds::post(
        &app.server(),
        "ORD-1",
        Some("k"),
        r#"{"amount_cents": 10000}"#,
    )
    .await;
    asked.assert_status(axum::http::StatusCode::ACCEPTED);
    let refund_id = asked.json::<serde_json::Value>()["refund_id"]
        .as_i64()
        .unwrap();
    let workers = start_worker::<RefundJob>(&app).await;
    let queue = app.services().queue::<RefundJob>();
    eventually("the refund job to die", Duration::from_secs(30), || async {
        (queue.counts().await.unwrap().dead == 1).then_some(())
    })
    .await;
    let status = |app: &TestApp| {
        let db = app.ctx().db.clone();
        async move {
            refund_rows::Entity::find_by_id(refund_id)
                .one(&db)
                .await
                .unwrap()
                .unwrap()
                .status
                .to_string()
        }
    };
    assert_eq!(status(&app).await, "pending");

    gateway.repair();
    let mut conn = app.redis().await;
    let target = OperatedQueue {
        short: RefundJob::QUEUE,
        full: queue.name().to_string(),
    };
    let outcome = RetryRequest::All
        .run(&mut conn, &app.ctx().db, &target)
        .await
        .unwrap();
    assert_eq!(outcome.retried, 1);
    eventually(
        "the refund to complete",
        Duration::from_secs(30),
        || async { (status(&app).await == "processed").then_some(()) },
    )
    .await;
    workers.stop().await;
    let order = orders::Entity::find_by_id(paid.id)
        .one(&app.ctx().db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (order.status.as_str(), order.refunded_cents),
        ("refunded", 10_000)
    );
}
