//! The import queue stays bounded while workers are alive, and a missing
//! worker does not make the task wait forever.
use std::{fs::File, process::Stdio, time::Duration};

use chrono::{TimeZone, Utc};
use orders_flow::{
    models::{
        generator::{generate, GenerateOptions},
        import::Format,
    },
    queue::OrderWorkflowJob,
    workers::import_chunk::ImportChunkJob,
};
use tokio::io::AsyncReadExt;

use crate::support::{
    eventually,
    imports::{done, import_workers, imports, run_task, stderr, success, Scratch},
    TestApp,
};

/// 3,000 orders, as 150 chunks of 20.
fn big_file(scratch: &Scratch) -> String {
    let path = scratch.path("big.csv");
    let options = GenerateOptions {
        orders: 3_000,
        format: Format::Orders,
        seed: 11,
        customers: 100,
        products: 100,
        now: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
    };
    generate(File::create(&path).unwrap(), options).unwrap();
    path
}

#[tokio::test]
async fn with_nobody_consuming_the_queue_the_task_says_so_and_queues_everything() {
    let app = TestApp::boot().await;
    let scratch = Scratch::new();
    let file = format!("file={}", big_file(&scratch));
    let out = run_task(
        &app,
        &["orders_import", &file, "chunk_size=20", "wait=false"],
    )
    .await;
    success(&out);
    let message = stderr(&out);
    assert!(
        message.contains("no worker is consuming the import queue ("),
        "{message}"
    );
    assert_eq!(
        message.matches("no worker").count(),
        1,
        "said once: {message}"
    );
    let queue = app.services().queue::<ImportChunkJob>();
    assert_eq!(queue.counts().await.unwrap().pending, 150);
}

#[tokio::test]
async fn with_a_live_worker_the_task_pauses_while_the_queue_is_full() {
    let app = TestApp::boot().await;
    let scratch = Scratch::new();
    let file = format!("file={}", big_file(&scratch));
    let queue = app.services().queue::<ImportChunkJob>();
    // A worker that looks alive but takes nothing: the queue fills to its
    // bound and the task has to wait.
    idle_worker(&app, queue.name(), true).await;
    let mut task = spawn_import(&app, &file, &[]);
    eventually("the queue to fill up", Duration::from_secs(30), || async {
        (queue.counts().await.unwrap().pending > 32).then_some(())
    })
    .await;
    assert!(
        task.try_wait().unwrap().is_none(),
        "the task waits for room"
    );
    assert!(
        queue.counts().await.unwrap().pending <= 40,
        "32 plus one push of 8"
    );

    let workers = import_workers(&app).await;
    let message = finish(task).await;
    assert!(message.contains("waiting for workers: "), "{message}");
    let [import] = imports(&app).await.try_into().unwrap();
    let import = done(&app, import.id).await;
    workers.stop().await;
    assert_eq!((import.chunks_total, import.orders_created), (150, 3_000));
}

#[tokio::test]
async fn the_task_also_pauses_while_the_workflow_queue_is_over_its_limit() {
    let app = TestApp::boot().await;
    let scratch = Scratch::new();
    let file = format!("file={}", big_file(&scratch));
    let workflow = app.services().queue::<OrderWorkflowJob>();
    // A workflow worker that looks alive but takes nothing: written orders pile up.
    idle_worker(&app, workflow.name(), true).await;
    let import_workers = import_workers(&app).await;
    let mut task = spawn_import(&app, &file, &[("WORKFLOW_MAX_QUEUED_ORDERS", "200")]);
    // Every chunk pushed before the pause gets written; then nothing more comes.
    let chunks = app.services().queue::<ImportChunkJob>();
    eventually(
        "the chunks queued before the pause to be written",
        Duration::from_secs(60),
        || async {
            let c = chunks.counts().await.unwrap();
            let queued = workflow.counts().await.unwrap().pending;
            (c.pending + c.running == 0 && queued > 200).then_some(())
        },
    )
    .await;
    assert!(
        task.try_wait().unwrap().is_none(),
        "the task waits for the workflow"
    );
    let queued = workflow.counts().await.unwrap().pending;
    assert!(
        queued < 3_000,
        "reading paused with {queued} of 3,000 orders queued"
    );

    // Nobody works the workflow any more: the rest of the file is read at once.
    idle_worker(&app, workflow.name(), false).await;
    let message = finish(task).await;
    assert!(
        message.contains("waiting for workers: ") && message.contains("or 200 orders wait"),
        "{message}"
    );
    let [import] = imports(&app).await.try_into().unwrap();
    let import = done(&app, import.id).await;
    import_workers.stop().await;
    assert_eq!(import.orders_created, 3_000);
    assert_eq!(workflow.counts().await.unwrap().pending, 3_000);
}

/// Registers (or removes) a worker process of `queue` that looks alive
/// (heartbeat an hour ahead) but takes nothing.
async fn idle_worker(app: &TestApp, queue: &str, alive: bool) {
    let mut redis = app.redis().await;
    let key = format!("{queue}:beats");
    let mut cmd = redis::cmd(if alive { "ZADD" } else { "ZREM" });
    cmd.arg(&key);
    if alive {
        cmd.arg(Utc::now().timestamp() + 3_600);
    }
    let _: () = cmd
        .arg("idle-worker")
        .query_async(&mut redis)
        .await
        .unwrap();
}

/// `orders_import` on `file` in chunks of 20, as its own process.
fn spawn_import(app: &TestApp, file: &str, env: &[(&str, &str)]) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_orders-flow-cli"))
        .args(["task", "orders_import", file, "chunk_size=20", "wait=false"])
        .env("LOCO_ENV", "test")
        .env("REDIS_PREFIX", &app.prefix)
        .env("DATABASE_URL", &app.database_url)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for the task to exit successfully; returns what it said.
async fn finish(mut task: tokio::process::Child) -> String {
    let status = tokio::time::timeout(Duration::from_secs(60), task.wait())
        .await
        .unwrap()
        .unwrap();
    let mut message = String::new();
    task.stderr
        .take()
        .unwrap()
        .read_to_string(&mut message)
        .await
        .unwrap();
    assert!(status.success(), "{message}");
    message
}
