//! A notification job delivered twice, one after the other or at the same time,
//! sends one email (real SMTP on loopback).
use std::{sync::Arc, time::Duration};

use orders_flow::{
    models::statuses::NotificationStatus,
    queue::{JobAttempt, JobError},
    workers::notify::deliver,
};
use tokio::sync::Barrier;

use super::notifications::{app_with_sink, queued, row};
use crate::support::{eventually, smtp::SmtpSink};

const FIRST: JobAttempt = JobAttempt::new(1, 2);

#[tokio::test]
async fn delivering_twice_in_a_row_sends_once() {
    let sink = SmtpSink::start().await;
    let app = app_with_sink(&sink).await;
    let (_, email) = queued(&app, 1, Some("ada@example.com")).await;
    let (_, log) = queued(&app, 2, None).await;
    for id in [email, log, email, log] {
        deliver(&app.jobs(), id, FIRST).await.unwrap();
    }
    assert_eq!(sink.messages().len(), 1);
    for id in [email, log] {
        let sent = row(&app, id).await;
        assert_eq!((sent.status, sent.attempts), (NotificationStatus::Sent, 1));
    }
}

#[tokio::test]
async fn two_deliveries_started_at_once_send_once() {
    const ROWS: usize = 8;
    let sink = SmtpSink::start().await;
    let app = Arc::new(app_with_sink(&sink).await);
    let mut ids = Vec::new();
    for n in 0..ROWS {
        ids.push(queued(&app, n, Some(&format!("c{n}@example.com"))).await.1);
    }
    let barrier = Arc::new(Barrier::new(2 * ROWS));
    let mut runs = Vec::new();
    for &id in ids.iter().chain(&ids) {
        let (app, barrier) = (app.clone(), barrier.clone());
        runs.push(tokio::spawn(async move {
            barrier.wait().await;
            deliver(&app.jobs(), id, FIRST).await
        }));
    }
    for run in runs {
        // The loser of a race either finds the row sent, or is told to retry
        // later because the other delivery holds the row.
        match run.await.unwrap() {
            Ok(()) | Err(JobError::Retry(_)) => {}
            Err(e) => panic!("unexpected outcome: {e}"),
        }
    }
    assert_eq!(sink.messages().len(), ROWS, "one email per row");
    for id in ids {
        let sent = row(&app, id).await;
        assert_eq!((sent.status, sent.attempts), (NotificationStatus::Sent, 1));
    }
}

#[tokio::test]
async fn a_delivery_caught_mid_send_keeps_a_second_one_out() {
    let sink = SmtpSink::start().await;
    let gate = sink.hold_messages();
    let app = Arc::new(app_with_sink(&sink).await);
    let (_, id) = queued(&app, 1, Some("ada@example.com")).await;
    let first = tokio::spawn({
        let app = app.clone();
        async move { deliver(&app.jobs(), id, FIRST).await }
    });
    eventually(
        "the first email to be mid-send",
        Duration::from_secs(10),
        || async { (sink.held() == 1).then_some(()) },
    )
    .await;

    let second = deliver(&app.jobs(), id, FIRST).await;
    assert!(matches!(second, Err(JobError::Retry(_))), "{second:?}");
    assert_eq!(sink.attempts(), 1, "the second delivery reached SMTP");
    gate.close();
    first.await.unwrap().unwrap();
    // The queue's retry of the second delivery then finds nothing to do.
    deliver(&app.jobs(), id, JobAttempt::new(2, 2))
        .await
        .unwrap();
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(row(&app, id).await.attempts, 1);
}

#[tokio::test]
async fn a_failure_before_the_last_attempt_keeps_the_row_queued_and_the_last_fails_it() {
    let sink = SmtpSink::start().await;
    sink.reject_mail_from(usize::MAX);
    let app = app_with_sink(&sink).await;
    let (_, id) = queued(&app, 1, Some("ada@example.com")).await;

    let early = deliver(&app.jobs(), id, FIRST).await;
    assert!(matches!(early, Err(JobError::Retry(_))), "{early:?}");
    let waiting = row(&app, id).await;
    assert_eq!(
        (waiting.status, waiting.attempts),
        (NotificationStatus::Queued, 1)
    );
    assert!(waiting.error.is_some_and(|e| e.contains("554")));

    let last = deliver(&app.jobs(), id, JobAttempt::new(3, 2)).await;
    assert!(matches!(last, Err(JobError::Permanent(_))), "{last:?}");
    let failed = row(&app, id).await;
    assert_eq!(
        (failed.status, failed.attempts),
        (NotificationStatus::Failed, 2)
    );
    // A failed row is final: another delivery sends nothing.
    deliver(&app.jobs(), id, FIRST).await.unwrap();
    assert_eq!(sink.attempts(), 2);
}
