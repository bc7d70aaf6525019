//! Dead jobs queued again: they run like freshly pushed jobs, with fresh attempts,
//! and a refused retry moves nothing.
use std::time::Duration;

use orders_flow::{
    queue::Job,
    workers::dead::{self, DeadJobError, OperatedQueue, RetryRequest},
};

use crate::support::{
    eventually,
    jobs::{attempts_seen, runs, start_worker, AttemptJob, CountJob, Failure},
    TestApp,
};

fn operated<J: Job>(app: &TestApp) -> OperatedQueue {
    OperatedQueue {
        short: J::QUEUE,
        full: app.services().queue::<J>().name().to_string(),
    }
}

async fn until_dead<J: Job>(app: &TestApp, n: u64) {
    let queue = app.services().queue::<J>();
    eventually("jobs in the dead set", Duration::from_secs(30), || async {
        (queue.counts().await.unwrap().dead == n).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_retried_dead_job_runs_again_and_finishes() {
    let app = TestApp::boot().await;
    let services = app.services();
    let queue = services.queue::<CountJob>();
    let workers = start_worker::<CountJob>(&app).await;
    let job = CountJob {
        key: "comeback".to_string(),
        fail: Failure::FirstRuns(3),
    };
    queue.push(&job).await.unwrap();
    until_dead::<CountJob>(&app, 1).await;
    assert_eq!(
        runs(&services, "comeback").await,
        3,
        "retries: 2, then dead"
    );

    let mut conn = app.redis().await;
    let page = dead::list(&mut conn, &operated::<CountJob>(&app), 10)
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    let dead_job = &page.jobs[0];
    assert_eq!(dead_job.payload, serde_json::to_value(&job).unwrap());
    assert_eq!(dead_job.status.as_deref(), Some("Killed"));
    assert!(dead_job
        .last_error
        .as_deref()
        .unwrap_or("")
        .contains("told to fail 3 times"));
    assert_eq!(dead_job.attempts, Some(3), "the first run and two retries");

    let retried = dead::retry(
        &mut conn,
        &app.ctx().db,
        &operated::<CountJob>(&app),
        std::slice::from_ref(&dead_job.id),
    )
    .await
    .unwrap();
    assert_eq!(retried, 1);
    eventually(
        "the retried job to finish",
        Duration::from_secs(30),
        || async { (queue.counts().await.unwrap().done == 1).then_some(()) },
    )
    .await;
    workers.stop().await;
    assert_eq!(runs(&services, "comeback").await, 4);
    let counts = queue.counts().await.unwrap();
    assert_eq!((counts.dead, counts.pending, counts.scheduled), (0, 0, 0));
}

#[tokio::test]
async fn a_retried_job_starts_again_from_its_first_attempt() {
    let app = TestApp::boot().await;
    let services = app.services();
    let workers = start_worker::<AttemptJob>(&app).await;
    let queue = services.queue::<AttemptJob>();
    queue
        .push(&AttemptJob {
            key: "fresh".to_string(),
        })
        .await
        .unwrap();
    until_dead::<AttemptJob>(&app, 1).await;
    let first = attempts_seen(&services, "fresh").await;
    assert_eq!(first, ["1:false", "2:false", "3:true"]);

    let mut conn = app.redis().await;
    let outcome = RetryRequest::All
        .run(&mut conn, &app.ctx().db, &operated::<AttemptJob>(&app))
        .await
        .unwrap();
    assert_eq!((outcome.retried, outcome.skipped), (1, 0));
    let seen = eventually(
        "the second round to die",
        Duration::from_secs(30),
        || async {
            let seen = attempts_seen(&services, "fresh").await;
            let dead = queue.counts().await.unwrap().dead;
            (seen.len() == 6 && dead == 1).then_some(seen)
        },
    )
    .await;
    workers.stop().await;
    assert_eq!(
        seen[3..],
        first[..],
        "the same attempts again, from the first"
    );
}

#[tokio::test]
async fn a_refused_retry_moves_nothing_and_a_retried_job_looks_freshly_pushed() {
    let app = TestApp::boot().await;
    let services = app.services();
    let queue = services.queue::<CountJob>();
    let workers = start_worker::<CountJob>(&app).await;
    let hopeless = CountJob {
        key: "hopeless".to_string(),
        fail: Failure::Permanent,
    };
    queue.push(&hopeless).await.unwrap();
    until_dead::<CountJob>(&app, 1).await;
    workers.stop().await;
    // A job that is waiting, not dead, may not be "retried" into a second copy.
    queue.push(&hopeless).await.unwrap();
    let target = operated::<CountJob>(&app);
    let mut conn = app.redis().await;
    let dead_id = dead::list(&mut conn, &target, 1).await.unwrap().jobs[0]
        .id
        .clone();
    let pending_id: String = redis::cmd("LINDEX")
        .arg(format!("{}:active", target.full))
        .arg(0)
        .query_async(&mut conn)
        .await
        .unwrap();

    let refused = dead::retry(
        &mut conn,
        &app.ctx().db,
        &target,
        &[dead_id.clone(), pending_id.clone()],
    )
    .await;
    assert!(
        matches!(&refused, Err(DeadJobError::NotDead(ids)) if *ids == [pending_id.clone()]),
        "{refused:?}"
    );
    let malformed = dead::retry(&mut conn, &app.ctx().db, &target, &["a b".to_string()]).await;
    assert!(
        matches!(malformed, Err(DeadJobError::InvalidId(_))),
        "{malformed:?}"
    );
    let empty = dead::retry(&mut conn, &app.ctx().db, &target, &[]).await;
    assert!(
        matches!(empty, Err(DeadJobError::InvalidBody(_))),
        "{empty:?}"
    );
    assert!(matches!(
        RetryRequest::from_json(b"{}"),
        Err(DeadJobError::InvalidBody(_))
    ));

    let counts = queue.counts().await.unwrap();
    assert_eq!((counts.dead, counts.pending), (1, 1), "nothing moved");
    assert_eq!(runs(&services, "hopeless").await, 1);

    assert_eq!(
        dead::retry(
            &mut conn,
            &app.ctx().db,
            &target,
            std::slice::from_ref(&dead_id)
        )
        .await
        .unwrap(),
        1
    );
    let active: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("{}:active", target.full))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(active, [pending_id.clone(), dead_id.clone()]);
    let meta = |id: String| {
        let mut conn = conn.clone();
        let key = format!("{}:meta:{id}", target.full);
        async move {
            let fields: std::collections::BTreeMap<String, String> = redis::cmd("HGETALL")
                .arg(key)
                .query_async(&mut conn)
                .await
                .unwrap();
            fields
        }
    };
    assert_eq!(
        meta(dead_id).await,
        meta(pending_id).await,
        "same metadata as a fresh push"
    );
}
