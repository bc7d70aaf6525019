//! Log in through the form, read the dashboard, retry a dead job from its
//! button, log out: every step in a real browser against the real app.
use std::time::Duration;

use orders_flow::{
    models::{order_notifications, statuses::NotificationStatus},
    queue::NotificationJob,
};
use sea_orm::EntityTrait;

use crate::support::{
    browser::{Browser, LiveApp},
    dead_jobs::dead_notification,
    eventually,
    jobs::start_worker,
    smtp::{app_mailing_to, SmtpSink},
};

async fn notification_status(app: &crate::support::TestApp) -> NotificationStatus {
    let rows = order_notifications::Entity::find()
        .all(&app.ctx().db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows[0].status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_logs_in_retries_a_dead_job_and_logs_out() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, 0).await;
    let workers = start_worker::<NotificationJob>(&app).await;
    let id = dead_notification(&app, &sink).await;
    assert_eq!(notification_status(&app).await, NotificationStatus::Failed);
    let live = LiveApp::serve(&app).await;
    let browser = Browser::start().await;

    // Without a session the console sends the browser to its login form.
    browser.goto(&live.url("/dashboard")).await;
    browser.find("#token").await;
    assert_eq!(browser.path().await, "/console/login");
    browser.screenshot("console-login").await;

    browser.log_in(&live, "test-token").await;
    browser.find("form.session").await;
    assert_eq!(browser.path().await, "/dashboard");
    let queue = app.services().queue::<NotificationJob>();
    let counts = queue.counts().await.unwrap();
    let dead = "tr[data-queue-row='notifications'] td[data-count='dead']";
    assert_eq!(
        browser.text(dead).await.as_deref(),
        Some(counts.dead.to_string().as_str())
    );
    assert_eq!(counts.dead, 1);
    browser.screenshot("console-dashboard").await;

    // SMTP is back: the dead job's button sends the mail.
    sink.reject_mail_from(0);
    browser
        .find(&format!(
            "button[data-queue='notifications'][data-id='{id}']"
        ))
        .await
        .click()
        .await
        .expect("click retry");
    browser
        .wait_for_text("#action-result", "the retry's answer", |t| {
            t == "queued again: 1"
        })
        .await;
    eventually(
        "the notification to be sent",
        Duration::from_secs(30),
        || async { (notification_status(&app).await == NotificationStatus::Sent).then_some(()) },
    )
    .await;
    // The page shows it done (it refreshes itself): no dead job, one done.
    let done = "tr[data-queue-row='notifications'] td[data-count='done']";
    browser
        .wait_for_text(dead, "no dead notification", |t| t == "0")
        .await;
    browser
        .wait_for_text(done, "the notification done", |t| t != "0")
        .await;
    assert_eq!(sink.messages().len(), 1, "mailed once");

    browser
        .find("form.session button")
        .await
        .click()
        .await
        .expect("log out");
    browser.find("#token").await;
    assert_eq!(browser.path().await, "/console/login");
    browser.goto(&live.url("/dashboard")).await;
    browser.find("#token").await;
    assert!(
        browser.path().await.starts_with("/console/login"),
        "the pages are refused after logout"
    );
    browser.close().await;
    workers.stop().await;
}
