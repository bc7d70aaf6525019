//! `queues_dead`, `queues_retry` and `queues_discard` from the shell, on a job a real worker killed.
use std::time::Duration;

use orders_flow::queue::NotificationJob;

use crate::support::{
    dead_jobs::app_with_a_dead_notification,
    eventually,
    imports::{run_task, stderr, stdout},
};

#[tokio::test]
async fn a_dead_job_is_listed_and_queued_again_and_garbage_changes_nothing() {
    let (_sink, app, id) = app_with_a_dead_notification().await;

    let listed = run_task(&app, &["queues_dead", "queue=notifications"]).await;
    assert!(listed.status.success(), "{}", stderr(&listed));
    let out = stdout(&listed);
    assert!(out.contains("notifications: 1 dead job(s)"), "{out}");
    assert!(out.contains(&id) && out.contains("attempts 1"), "{out}");

    for (args, expected) in [
        (vec!["queue=nope", "all=true"], "unknown queue `nope`"),
        (vec!["queue=notifications"], "give id=JOB_ID or all=true"),
        (vec!["queue=notifications", "all=yes"], "`all` must be true"),
        (
            vec!["queue=notifications", "id=12345"],
            "not dead jobs of this queue",
        ),
        (
            vec!["queue=notifications", "id=a;b"],
            "invalid job id `a;b`",
        ),
        (
            vec!["queue=notifications", "id=x", "all=true"],
            "either id= or all=true",
        ),
    ] {
        let mut argv = vec!["queues_retry"];
        argv.extend(&args);
        let out = run_task(&app, &argv).await;
        assert!(!out.status.success(), "{args:?} must fail");
        let message = stderr(&out);
        assert!(message.contains(expected), "{args:?}: {message}");
    }
    let queue = app.services().queue::<NotificationJob>();
    let counts = queue.counts().await.unwrap();
    assert_eq!(
        (counts.dead, counts.pending),
        (1, 0),
        "garbage moved nothing"
    );

    let id_arg = format!("id={id}");
    let retried = run_task(&app, &["queues_retry", "queue=notifications", &id_arg]).await;
    assert!(retried.status.success(), "{}", stderr(&retried));
    assert!(
        stdout(&retried).contains("notifications: 1 dead job(s) queued again"),
        "{}",
        stdout(&retried)
    );
    let counts = queue.counts().await.unwrap();
    assert_eq!((counts.dead, counts.pending), (0, 1));

    // Queued again, and no worker left to take it: the status says so once the
    // stopped worker's last heartbeat is older than the liveness window.
    eventually(
        "the stopped worker to count as gone",
        Duration::from_secs(30),
        || async { (queue.counts().await.unwrap().live_workers == 0).then_some(()) },
    )
    .await;
    let status = run_task(&app, &["queues_status"]).await;
    assert!(status.status.success(), "{}", stderr(&status));
    let expected = format!("! {}: 1 job(s) wait and no worker is alive", queue.name());
    assert!(stdout(&status).contains(&expected), "{}", stdout(&status));
}

#[tokio::test]
async fn queues_discard_removes_a_dead_job_and_refuses_one_that_is_not_dead() {
    let (_sink, app, id) = app_with_a_dead_notification().await;
    let queue = app.services().queue::<NotificationJob>();

    let refused = run_task(&app, &["queues_discard", "queue=notifications", "id=12345"]).await;
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("not dead jobs of this queue"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(queue.counts().await.unwrap().dead, 1, "nothing removed");

    let id_arg = format!("id={id}");
    let discarded = run_task(&app, &["queues_discard", "queue=notifications", &id_arg]).await;
    assert!(discarded.status.success(), "{}", stderr(&discarded));
    assert!(
        stdout(&discarded).contains("notifications: 1 dead job(s) discarded"),
        "{}",
        stdout(&discarded)
    );
    let counts = queue.counts().await.unwrap();
    assert_eq!((counts.dead, counts.pending), (0, 0));
}
