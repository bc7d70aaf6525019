//! Running the import tasks as real processes, and reading what they wrote.
use std::{
    path::{Path, PathBuf},
    process::Output,
    time::Duration,
};

use orders_flow::{
    models::{
        _entities::{customers, order_items, orders, products},
        imports::Model as Import,
    },
    queue::{OrderWorkflowJob, WorkerProcess},
    workers::{import_chunk::ImportChunkJob, worker_set},
};
use sea_orm::{EntityTrait, PaginatorTrait, QueryOrder};

use super::{eventually, TestApp};

/// Runs `orders-flow-cli task ARGS…` against the app's database and Redis
/// prefix. Async, so workers started in the test keep running meanwhile.
pub async fn run_task(app: &TestApp, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_orders-flow-cli"))
        .arg("task")
        .args(args)
        .env("LOCO_ENV", "test")
        .env("REDIS_PREFIX", &app.prefix)
        .env("DATABASE_URL", &app.database_url)
        .output()
        .await
        .expect("run task")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the task succeeded and returns its stdout.
pub fn success(out: &Output) -> String {
    assert!(
        out.status.success(),
        "task failed\nstdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// Import-chunk workers in this process, returned once registered in Redis
/// (so a task started next sees a live worker and waits for it).
pub async fn import_workers(app: &TestApp) -> WorkerProcess {
    let workers = worker_set(&app.jobs())
        .add::<ImportChunkJob>()
        .start()
        .await
        .expect("start workers");
    let queue = app.services().queue::<ImportChunkJob>();
    eventually(
        "the import worker to register",
        Duration::from_secs(20),
        || async { (queue.live_workers().await.expect("redis") > 0).then_some(()) },
    )
    .await;
    workers
}

/// The repository's sample files.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A scratch directory of this test (removed on drop).
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("of-import-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }

    /// Writes `text` to `name` and returns the path as a string.
    pub fn file(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write scratch file");
        path.display().to_string()
    }

    pub fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every import row, oldest first.
pub async fn imports(app: &TestApp) -> Vec<Import> {
    orders_flow::models::imports::Entity::find()
        .order_by_asc(orders_flow::models::imports::Column::Id)
        .all(&app.ctx().db)
        .await
        .expect("imports")
}

/// The import once it is `done`.
pub async fn done(app: &TestApp, id: i64) -> Import {
    eventually("the import to be done", Duration::from_secs(60), || async {
        Import::find_by_id(&app.ctx().db, id)
            .await
            .expect("import")
            .filter(|i| i.state.as_str() == "done")
    })
    .await
}

/// Rows in the tables an import writes.
#[derive(Debug, PartialEq, Eq)]
pub struct Tables {
    pub customers: u64,
    pub products: u64,
    pub orders: u64,
    pub items: u64,
}

pub async fn tables(app: &TestApp) -> Tables {
    let db = &app.ctx().db;
    Tables {
        customers: customers::Entity::find().count(db).await.expect("count"),
        products: products::Entity::find().count(db).await.expect("count"),
        orders: orders::Entity::find().count(db).await.expect("count"),
        items: order_items::Entity::find().count(db).await.expect("count"),
    }
}

/// Workflow jobs waiting in Redis (the workflow queue has no worker in tests).
pub async fn workflow_jobs(app: &TestApp) -> u64 {
    app.services()
        .queue::<OrderWorkflowJob>()
        .counts()
        .await
        .expect("counts")
        .pending
}
