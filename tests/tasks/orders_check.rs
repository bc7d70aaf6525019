//! `orders_check`: the checks the benchmark and the demo run after a run, on a
//! real run (a worker process, the import task) and on a broken one.
use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use orders_flow::models::{_entities::order_notifications, pipeline::PipelineStatus};
use sea_orm::{EntityTrait, QueryOrder};

use crate::support::{
    dead_jobs::app_with_a_dead_notification,
    eventually,
    imports::{fixture, imports, run_task, stderr, stdout, success},
    TestApp,
};

struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn worker_process(app: &TestApp) -> Worker {
    let child = Command::new(env!("CARGO_BIN_EXE_orders-flow-cli"))
        .args(["start", "--worker"])
        .env("LOCO_ENV", "test")
        .env("REDIS_PREFIX", &app.prefix)
        .env("DATABASE_URL", &app.database_url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn worker process");
    Worker(child)
}

#[tokio::test]
async fn a_settled_run_passes_and_a_missing_notification_fails_it() {
    let app = TestApp::boot().await;
    let _worker = worker_process(&app);
    let file = fixture("items-format-sample.csv");
    success(
        &run_task(
            &app,
            &["orders_import", &format!("file={}", file.display())],
        )
        .await,
    );
    eventually("the run to settle", Duration::from_secs(120), || async {
        let status = PipelineStatus::read(&app.ctx().db).await.unwrap();
        status.settled.then_some(())
    })
    .await;
    // Read after settling: the task may have returned before the worker
    // process registered (then the import finishes after it).
    let [import] = imports(&app).await.try_into().unwrap();
    assert_eq!(import.state.as_str(), "done");

    let import_arg = format!("import={}", import.id);
    let passed = run_task(&app, &["orders_check", &import_arg, "format=env"]).await;
    let env = success(&passed);
    assert!(env.lines().any(|l| l == "checks=pass"), "{env}");
    let orders = import.orders_created.to_string();
    assert!(
        env.lines()
            .any(|l| l.strip_prefix("orders=") == Some(orders.as_str())),
        "{env}"
    );

    let unknown = run_task(&app, &["orders_check", "import=999999"]).await;
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("import 999999 does not exist"),
        "{}",
        stderr(&unknown)
    );

    let first = order_notifications::Entity::find()
        .order_by_asc(order_notifications::Column::Id)
        .one(&app.ctx().db)
        .await
        .unwrap()
        .expect("a notification");
    order_notifications::Entity::delete_by_id(first.id)
        .exec(&app.ctx().db)
        .await
        .unwrap();
    let failed = run_task(&app, &["orders_check", &import_arg, "format=env"]).await;
    assert!(!failed.status.success(), "{}", stdout(&failed));
    assert!(stdout(&failed).lines().any(|l| l == "checks=fail"));
    assert!(
        stderr(&failed).contains("1 order(s) do not have exactly one notification"),
        "{}",
        stderr(&failed)
    );
}

#[tokio::test]
async fn nothing_to_check_is_a_failure_not_a_pass() {
    let app = TestApp::boot().await;
    let out = run_task(&app, &["orders_check"]).await;
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("there are no orders"),
        "{}",
        stderr(&out)
    );
    let bad = run_task(&app, &["orders_check", "format=yaml"]).await;
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("unknown format `yaml`"),
        "{}",
        stderr(&bad)
    );
}

#[tokio::test]
async fn a_dead_job_fails_the_check_with_its_queue_and_last_error() {
    let (_sink, app, id) = app_with_a_dead_notification().await;

    let out = run_task(&app, &["orders_check"]).await;
    assert!(!out.status.success(), "{}", stdout(&out));
    let said = stderr(&out);
    let line = said
        .lines()
        .find(|l| l.contains("dead set"))
        .unwrap_or_else(|| panic!("no dead-set failure in: {said}"));
    assert!(
        line.contains("1 job(s) in the dead set of notifications")
            && line.contains(&format!("job {id} after 1 attempt(s)"))
            && line.contains("5.7.1 sender rejected by the test sink"),
        "{line}"
    );
}
