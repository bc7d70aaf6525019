//! Notifications through the real queue and a real SMTP server on loopback:
//! content, the log channel, retries, and the final failure.
use std::time::Duration;

use orders_flow::{
    models::{
        order_notifications::{self, queue_for},
        orders,
        statuses::{NotificationStatus, OrderStatus},
    },
    queue::{Job, NotificationJob, WorkerProcess},
    workers::{register_all, worker_set},
};
use sea_orm::EntityTrait;

use crate::support::{
    eventually,
    jobs::start_worker,
    shop,
    smtp::{app_mailing_to, SmtpSink},
    TestApp,
};

/// An app mailing to `sink`, with quick retries: 3 attempts, 10 ms apart.
pub async fn app_with_sink(sink: &SmtpSink) -> TestApp {
    app_mailing_to(sink, 2).await
}

/// A failed order of a customer with (or without) `email`, its notification queued.
pub async fn queued(app: &TestApp, n: usize, email: Option<&str>) -> (orders::Model, i64) {
    let customer = shop::customer(app, &format!("C-{n}"), email).await;
    let order = shop::order(
        app,
        &format!("O-{n}"),
        &customer,
        OrderStatus::Failed,
        12_345,
        None,
    )
    .await;
    let id = queue_for(&app.ctx().db, &order, "failed", Some("out_of_stock"), true)
        .await
        .unwrap()
        .expect("queued");
    (order, id)
}

pub async fn row(app: &TestApp, id: i64) -> order_notifications::Model {
    order_notifications::Entity::find_by_id(id)
        .one(&app.ctx().db)
        .await
        .unwrap()
        .expect("notification row")
}

async fn start_workers(app: &TestApp) -> WorkerProcess {
    start_worker::<NotificationJob>(app).await
}

async fn until_status(
    app: &TestApp,
    id: i64,
    wanted: NotificationStatus,
) -> order_notifications::Model {
    eventually(
        &format!("notification {id} {wanted}"),
        Duration::from_secs(30),
        || async {
            let row = row(app, id).await;
            (row.status == wanted).then_some(row)
        },
    )
    .await
}

#[tokio::test]
async fn the_notification_queue_is_registered_for_every_worker_process() {
    let app = TestApp::boot().await;
    let process = register_all(worker_set(&app.jobs())).start().await.unwrap();
    let queue = app.services().queue::<NotificationJob>();
    assert!(process.queues().any(|name| name == queue.name()));
    process.stop().await;
}

#[tokio::test]
async fn an_email_reaches_the_smtp_server_with_the_order_details() {
    let sink = SmtpSink::start().await;
    let app = app_with_sink(&sink).await;
    let (_, id) = queued(&app, 7, Some("ada@example.com")).await;
    let workers = start_workers(&app).await;
    let services = app.services();
    services
        .queue()
        .push(&NotificationJob::one(id))
        .await
        .unwrap();

    let sent = until_status(&app, id, NotificationStatus::Sent).await;
    workers.stop().await;
    assert_eq!((sent.attempts, sent.error.as_deref()), (1, None));
    assert!(sent.sent_at.is_some());
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    let mail = &messages[0];
    assert_eq!(mail.to, ["RCPT TO:<ada@example.com>"]);
    assert!(mail.from.contains("<orders@localhost>"), "{}", mail.from);
    let text = mail.unfolded();
    for expected in [
        "Subject: Order O-7: could not be completed",
        "To: ada@example.com",
        "Order:  O-7",
        "Status: failed",
        "Total:  123.45 EUR",
        "Reason: out_of_stock",
        "Customer: C-7",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[tokio::test]
async fn a_customer_without_email_gets_a_log_line_and_the_row_is_sent() {
    let sink = SmtpSink::start().await;
    let app = app_with_sink(&sink).await;
    let (_, id) = queued(&app, 1, None).await;
    assert_eq!(row(&app, id).await.channel, "log");
    let workers = start_workers(&app).await;
    app.services()
        .queue()
        .push(&NotificationJob::one(id))
        .await
        .unwrap();

    let sent = until_status(&app, id, NotificationStatus::Sent).await;
    workers.stop().await;
    assert_eq!(sent.attempts, 1);
    assert!(sent.sent_at.is_some());
    assert_eq!(sink.attempts(), 0, "nothing went to SMTP");
}

#[tokio::test]
async fn a_failing_smtp_server_is_retried_then_the_row_fails_and_the_order_is_untouched() {
    let sink = SmtpSink::start().await;
    sink.reject_mail_from(usize::MAX);
    let app = app_with_sink(&sink).await;
    let (order, id) = queued(&app, 3, Some("ada@example.com")).await;
    let workers = start_workers(&app).await;
    let queue = app.services().queue::<NotificationJob>();
    queue.push(&NotificationJob::one(id)).await.unwrap();

    let failed = until_status(&app, id, NotificationStatus::Failed).await;
    eventually(
        "the job in the dead set",
        Duration::from_secs(30),
        || async { (queue.counts().await.unwrap().dead == 1).then_some(()) },
    )
    .await;
    workers.stop().await;
    assert_eq!(sink.attempts(), 3, "the first attempt and two retries");
    assert_eq!(failed.attempts, 3);
    let error = failed.error.unwrap_or_default();
    assert!(
        error.contains("554") && error.contains("sender rejected"),
        "{error}"
    );
    assert_eq!(failed.sent_at, None);
    let order_now = orders::Entity::find_by_id(order.id)
        .one(&app.ctx().db)
        .await
        .unwrap();
    assert_eq!(order_now.as_ref(), Some(&order), "the order changed");
}

#[tokio::test]
async fn a_send_that_fails_once_is_retried_and_the_error_stays_recorded() {
    let sink = SmtpSink::start().await;
    sink.reject_data(1);
    let app = app_with_sink(&sink).await;
    let (_, id) = queued(&app, 4, Some("ada@example.com")).await;
    let workers = start_workers(&app).await;
    app.services()
        .queue()
        .push(&NotificationJob::one(id))
        .await
        .unwrap();

    let sent = until_status(&app, id, NotificationStatus::Sent).await;
    workers.stop().await;
    assert_eq!(sent.attempts, 2);
    let error = sent.error.unwrap_or_default();
    assert!(
        error.contains("554") && error.contains("message rejected"),
        "{error}"
    );
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn a_batch_job_marks_its_log_rows_sent_and_gives_each_email_its_own_job() {
    let sink = SmtpSink::start().await;
    let app = app_with_sink(&sink).await;
    let mut logs = Vec::new();
    for n in 0..5 {
        logs.push(queued(&app, n, None).await.1);
    }
    let (_, email) = queued(&app, 9, Some("ada@example.com")).await;
    let (_, already_sent) = queued(&app, 10, None).await;
    order_notifications::Entity::mark_sent(&app.ctx().db, already_sent)
        .await
        .unwrap();
    let ids: Vec<i64> = logs.iter().copied().chain([email, already_sent]).collect();
    let workers = start_workers(&app).await;
    let queue = app.services().queue::<NotificationJob>();
    queue
        .push(&NotificationJob {
            notification_ids: ids.clone(),
        })
        .await
        .unwrap();

    let mailed = until_status(&app, email, NotificationStatus::Sent).await;
    for id in &logs {
        let sent = until_status(&app, *id, NotificationStatus::Sent).await;
        assert_eq!(sent.attempts, 1);
    }
    // Delivered again (at least once): nothing is sent twice.
    NotificationJob {
        notification_ids: ids,
    }
    .run(&app.jobs())
    .await
    .unwrap();
    workers.stop().await;
    assert_eq!(mailed.attempts, 1);
    assert_eq!(sink.messages().len(), 1, "one email");
    assert_eq!(row(&app, email).await.attempts, 1);
    for id in logs.iter().chain([&already_sent]) {
        assert_eq!(row(&app, *id).await.attempts, 1, "row {id}");
    }
}
