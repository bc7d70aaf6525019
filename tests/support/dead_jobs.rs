//! A real dead job in a product queue: a notification whose SMTP server refuses
//! it, run by a real worker (`smtp::app_mailing_to(sink, 0)`: no retries).
use std::time::Duration;

use orders_flow::{
    models::{order_notifications::queue_for, statuses::OrderStatus},
    queue::NotificationJob,
};

use super::{
    eventually,
    jobs::start_worker,
    shop,
    smtp::{app_mailing_to, SmtpSink},
    TestApp,
};

/// An app whose notifications go to a sink that refuses them (no retries),
/// with one dead notification job, killed by a worker that has stopped since;
/// returns the sink, the app and the job's id.
pub async fn app_with_a_dead_notification() -> (SmtpSink, TestApp, String) {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, 0).await;
    let workers = start_worker::<NotificationJob>(&app).await;
    let id = dead_notification(&app, &sink).await;
    workers.stop().await;
    (sink, app, id)
}

/// Sends one notification to a refusing server and waits until a running
/// worker has killed its job; returns the job id. `sink` keeps refusing until
/// told otherwise.
pub async fn dead_notification(app: &TestApp, sink: &SmtpSink) -> String {
    sink.reject_mail_from(usize::MAX);
    let customer = shop::customer(app, "C-DEAD", Some("ada@example.com")).await;
    let order = shop::order(app, "O-DEAD", &customer, OrderStatus::Failed, 12_345, None).await;
    let row = queue_for(&app.ctx().db, &order, "failed", Some("out_of_stock"), true)
        .await
        .unwrap()
        .expect("queued");
    let queue = app.services().queue::<NotificationJob>();
    queue.push(&NotificationJob::one(row)).await.unwrap();
    eventually(
        "the job in the dead set",
        Duration::from_secs(30),
        || async { (queue.counts().await.unwrap().dead == 1).then_some(()) },
    )
    .await;
    let mut conn = app.redis().await;
    let ids: Vec<String> = redis::cmd("SMEMBERS")
        .arg(format!("{}:dead", queue.name()))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(ids.len(), 1, "{ids:?}");
    ids[0].clone()
}
