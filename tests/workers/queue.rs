//! The queue machinery: deep backlogs, retries, dead jobs, unique worker names.
use std::time::Duration;

use orders_flow::{
    queue::{NotificationJob, OrderWorkflowJob},
    workers::worker_set,
};
use serde_json::json;

use crate::support::{
    eventually,
    jobs::{attempts_seen, runs, AttemptJob, CountJob, Failure},
    TestApp,
};

fn job(key: &str, fail: Failure) -> CountJob {
    CountJob {
        key: key.to_string(),
        fail,
    }
}

/// apalis-redis alone stops at ~8,000 queued jobs ("too many results to unpack").
#[tokio::test]
async fn a_backlog_far_past_8000_jobs_drains() {
    const JOBS: i64 = 20_000;
    let app = TestApp::boot().await;
    let services = app.services();
    let queue = services.queue::<CountJob>();
    let jobs: Vec<CountJob> = (0..JOBS).map(|_| job("deep", Failure::Never)).collect();
    assert_eq!(queue.push_bulk(&jobs).await.unwrap(), JOBS as u64);
    assert_eq!(queue.counts().await.unwrap().pending, JOBS as u64);

    let workers = worker_set(&app.jobs())
        .add::<CountJob>()
        .start()
        .await
        .unwrap();
    eventually("every job to finish", Duration::from_secs(120), || async {
        let counts = queue.counts().await.unwrap();
        (counts.done == JOBS as u64).then_some(())
    })
    .await;
    workers.stop().await;
    assert_eq!(
        runs(&services, "deep").await,
        JOBS,
        "each job ran exactly once"
    );
    let counts = queue.counts().await.unwrap();
    assert_eq!((counts.pending, counts.running, counts.dead), (0, 0, 0));
}

#[tokio::test]
async fn a_failing_job_is_retried_then_kept_dead() {
    let app = TestApp::boot().await;
    let services = app.services();
    let queue = services.queue::<CountJob>();
    queue.push(&job("flaky", Failure::Always)).await.unwrap();
    queue
        .push(&job("hopeless", Failure::Permanent))
        .await
        .unwrap();

    let workers = worker_set(&app.jobs())
        .add::<CountJob>()
        .start()
        .await
        .unwrap();
    eventually("both jobs to die", Duration::from_secs(30), || async {
        (queue.counts().await.unwrap().dead == 2).then_some(())
    })
    .await;
    workers.stop().await;
    // retries: 2 → three attempts in all, then the dead set; a permanent failure runs once.
    assert_eq!(runs(&services, "flaky").await, 3);
    assert_eq!(runs(&services, "hopeless").await, 1);
}

#[tokio::test]
async fn a_job_is_told_its_attempt_number_and_which_one_is_last() {
    let app = TestApp::boot().await;
    let services = app.services();
    let queue = services.queue::<AttemptJob>();
    queue
        .push(&AttemptJob {
            key: "counted".to_string(),
        })
        .await
        .unwrap();
    let workers = worker_set(&app.jobs())
        .add::<AttemptJob>()
        .start()
        .await
        .unwrap();
    eventually("the job to die", Duration::from_secs(30), || async {
        (queue.counts().await.unwrap().dead == 1).then_some(())
    })
    .await;
    workers.stop().await;
    // retries: 2 → three runs, and only the third may record a final failure.
    assert_eq!(
        attempts_seen(&services, "counted").await,
        ["1:false", "2:false", "3:true"]
    );
}

#[tokio::test]
async fn two_worker_sets_on_one_machine_both_work() {
    let app = TestApp::boot().await;
    let services = app.services();
    let queue = services.queue::<CountJob>();
    let first = worker_set(&app.jobs())
        .add::<CountJob>()
        .start()
        .await
        .unwrap();
    let second = worker_set(&app.jobs())
        .add::<CountJob>()
        .start()
        .await
        .unwrap();
    let mut conn = app.redis().await;
    let registered: u64 = eventually("both workers to register", Duration::from_secs(10), || {
        let mut conn = conn.clone();
        let key = format!("{}:workers", queue.name());
        async move {
            let n: u64 = redis::cmd("ZCARD")
                .arg(key)
                .query_async(&mut conn)
                .await
                .unwrap();
            (n == 2).then_some(n)
        }
    })
    .await;
    assert_eq!(registered, 2);
    let jobs: Vec<CountJob> = (0..500).map(|_| job("shared", Failure::Never)).collect();
    queue.push_bulk(&jobs).await.unwrap();
    eventually("the jobs to finish", Duration::from_secs(30), || async {
        (queue.counts().await.unwrap().done == 500).then_some(())
    })
    .await;
    first.stop().await;
    second.stop().await;
    assert_eq!(runs(&services, "shared").await, 500);
    let _: () = redis::cmd("PING").query_async(&mut conn).await.unwrap();
}

/// Adds job `id` the way apalis-redis stores it: payload, metadata with its
/// finish time and, when `finished`, its id in the `done` set.
fn seed_job(pipe: &mut redis::Pipeline, queue: &str, id: &str, done_at: u64, finished: bool) {
    if finished {
        pipe.cmd("SADD")
            .arg(format!("{queue}:done"))
            .arg(id)
            .ignore();
    }
    pipe.cmd("HSET")
        .arg(format!("{queue}:data"))
        .arg(id)
        .arg("{}")
        .ignore();
    pipe.cmd("HSET")
        .arg(format!("{queue}:meta:{id}"))
        .arg("done_at")
        .arg(done_at)
        .ignore();
}

/// Retention keeps up with a fast run: one housekeeping pass deletes every
/// finished job past the cutoff, not one slice of them, and keeps recent ones.
#[tokio::test]
async fn one_pass_trims_every_finished_job_past_retention() {
    const OLD: usize = 2_500;
    const RECENT: usize = 10;
    let app = TestApp::boot().await;
    let services = app.services();
    let queue = services.settings.redis.key("test:retention");
    let now = orders_flow::queue::unix_now();
    let mut conn = services.redis.clone();
    let mut pipe = redis::pipe();
    for i in 0..OLD + RECENT {
        let done_at = if i < OLD { now - 3_600 } else { now };
        seed_job(&mut pipe, &queue, &format!("job-{i}"), done_at, true);
    }
    let () = pipe.query_async(&mut conn).await.unwrap();

    let removed = orders_flow::queue::reap_expired(&mut conn, &queue, "done", Some(now - 60))
        .await
        .unwrap();

    assert_eq!(
        removed, OLD as u64,
        "more than one slice (1,000) in one pass"
    );
    let left: u64 = redis::cmd("SCARD")
        .arg(format!("{queue}:done"))
        .query_async(&mut conn)
        .await
        .unwrap();
    let data: u64 = redis::cmd("HLEN")
        .arg(format!("{queue}:data"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!((left, data), (RECENT as u64, RECENT as u64));
}

/// A queue that keeps no finished jobs deletes them all, whatever their finish
/// time, with their payloads and metadata, and leaves a job that is not in
/// the set (still queued) alone.
#[tokio::test]
async fn keeping_nothing_deletes_every_finished_job_and_its_metadata() {
    const DONE: usize = 2_500;
    let app = TestApp::boot().await;
    let services = app.services();
    let queue = services.settings.redis.key("test:reap-all");
    let now = orders_flow::queue::unix_now();
    let mut conn = services.redis.clone();
    let mut pipe = redis::pipe();
    for i in 0..=DONE {
        // The last one is still queued: payload and metadata, not in `done`.
        seed_job(&mut pipe, &queue, &format!("job-{i}"), now, i < DONE);
    }
    let () = pipe.query_async(&mut conn).await.unwrap();

    let removed = orders_flow::queue::reap_expired(&mut conn, &queue, "done", None)
        .await
        .unwrap();

    assert_eq!(removed, DONE as u64, "every finished job, in one pass");
    let data: Vec<String> = redis::cmd("HKEYS")
        .arg(format!("{queue}:data"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(data, [format!("job-{DONE}")]);
    let metas: (u64, u64) = redis::pipe()
        .cmd("EXISTS")
        .arg(format!("{queue}:meta:job-0"))
        .cmd("EXISTS")
        .arg(format!("{queue}:meta:job-{DONE}"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        metas,
        (0, 1),
        "finished metadata gone, the queued job's kept"
    );
}

/// A queue's own `keep_done_secs` wins over the apalis default: with the
/// workflow queue set to 0, the first housekeeping pass (at start) empties its
/// finished jobs and leaves the notifications' (60 s default in tests) alone.
#[tokio::test]
async fn each_queue_keeps_its_finished_jobs_as_long_as_it_says() {
    let app = TestApp::boot_with(|s| s["queues"]["workflow"]["keep_done_secs"] = json!(0)).await;
    let services = app.services();
    let workflow = services.queue::<OrderWorkflowJob>().name().to_string();
    let notifications = services.queue::<NotificationJob>().name().to_string();
    let finished_at = orders_flow::queue::unix_now() - 10;
    let mut conn = services.redis.clone();
    let mut pipe = redis::pipe();
    for queue in [&workflow, &notifications] {
        pipe.cmd("SADD")
            .arg(format!("{queue}:done"))
            .arg("job-1")
            .ignore();
        pipe.cmd("HSET")
            .arg(format!("{queue}:meta:job-1"))
            .arg("done_at")
            .arg(finished_at)
            .ignore();
    }
    let () = pipe.query_async(&mut conn).await.unwrap();

    // Notifications first: once the workflow queue is trimmed, the same pass
    // has already looked at the notifications.
    let workers = worker_set(&app.jobs())
        .add::<NotificationJob>()
        .add::<OrderWorkflowJob>()
        .start()
        .await
        .unwrap();
    let done = |queue: String| {
        let mut conn = services.redis.clone();
        async move {
            redis::cmd("SCARD")
                .arg(format!("{queue}:done"))
                .query_async::<u64>(&mut conn)
                .await
                .unwrap()
        }
    };
    eventually(
        "the workflow's finished job to be deleted",
        Duration::from_secs(20),
        || async { (done(workflow.clone()).await == 0).then_some(()) },
    )
    .await;
    assert_eq!(
        done(notifications.clone()).await,
        1,
        "kept for the default 60 s"
    );
    workers.stop().await;
}

/// The watchdog names a queue whose worker of this process has not beaten for
/// longer than allowed while jobs wait, and nothing else: not an idle queue,
/// not a fresh worker, not another process's worker, not a worker that was
/// restarted under a new name and beats again.
#[tokio::test]
async fn the_watchdog_names_only_a_silent_worker_with_jobs_waiting() {
    use orders_flow::queue::watchdog::{stalled_queues, Stalled};
    let app = TestApp::boot().await;
    let services = app.services();
    let now = orders_flow::queue::unix_now();
    let mut conn = services.redis.clone();
    let queue = |name: &str| {
        services
            .settings
            .redis
            .key(&format!("test:watchdog:{name}"))
    };
    let (stuck, idle, fresh, others, restarted) = (
        queue("stuck"),
        queue("idle"),
        queue("fresh"),
        queue("others"),
        queue("restarted"),
    );
    let mut pipe = redis::pipe();
    let mut beat = |queue: &str, worker: &str, at: u64| {
        pipe.cmd("ZADD")
            .arg(format!("{queue}:workers"))
            .arg(at)
            .arg(worker)
            .ignore();
    };
    beat(&stuck, "host-1-0-stuck-r0", now - 600);
    beat(&idle, "host-1-0-idle-r0", now - 600);
    beat(&fresh, "host-1-0-fresh-r0", now - 1);
    beat(&others, "host-2-0-others-r0", now - 600);
    beat(&restarted, "host-1-0-restarted-r0", now - 600);
    beat(&restarted, "host-1-0-restarted-r1", now - 1);
    for queue in [&stuck, &fresh, &others, &restarted] {
        pipe.cmd("RPUSH")
            .arg(format!("{queue}:active"))
            .arg("job-1")
            .ignore();
    }
    let () = pipe.query_async(&mut conn).await.unwrap();

    let queues = vec![stuck.clone(), idle, fresh, others, restarted];
    let stalled = stalled_queues(&mut conn, "host-1-0", &queues, now, 60)
        .await
        .unwrap();

    assert_eq!(
        stalled,
        [Stalled {
            queue: stuck,
            silent_secs: 600
        }]
    );
    assert_eq!(orders_flow::queue::watchdog::stale_after_secs(2, 2), 60);
    assert_eq!(orders_flow::queue::watchdog::stale_after_secs(10, 3), 300);
}
