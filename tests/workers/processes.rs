//! Real worker processes: `start --worker` twice on one machine, then SIGTERM.
use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use crate::support::{delete_prefix, eventually, redis_url};

struct WorkerChild(Child);

impl Drop for WorkerChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_worker(prefix: &str, database_url: &str) -> WorkerChild {
    let child = Command::new(env!("CARGO_BIN_EXE_orders-flow-cli"))
        .args(["start", "--worker"])
        .env("LOCO_ENV", "test")
        .env("REDIS_PREFIX", prefix)
        .env("DATABASE_URL", database_url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn worker process");
    WorkerChild(child)
}

fn sigterm(child: &WorkerChild) {
    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

#[tokio::test]
async fn two_worker_processes_run_side_by_side_and_stop_on_sigterm() {
    let app = crate::support::TestApp::boot().await;
    let prefix = format!("{}-procs", app.prefix);
    let workers_key = format!("{prefix}:ops:canary:workers");
    let first = start_worker(&prefix, &app.database_url);
    let second = start_worker(&prefix, &app.database_url);

    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let names: Vec<String> = eventually(
        "both processes to register",
        Duration::from_secs(60),
        || {
            let mut conn = conn.clone();
            let key = workers_key.clone();
            async move {
                let names: Vec<String> = redis::cmd("ZRANGE")
                    .arg(key)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                (names.len() == 2).then_some(names)
            }
        },
    )
    .await;
    assert!(
        names[0].contains(&first.0.id().to_string())
            || names[1].contains(&first.0.id().to_string())
    );
    assert!(names.iter().any(|n| n.contains(&second.0.id().to_string())));

    for mut child in [first, second] {
        sigterm(&child);
        let status = eventually("the process to exit", Duration::from_secs(40), || {
            let status = child.0.try_wait().unwrap();
            async move { status }
        })
        .await;
        assert!(status.success(), "worker exited with {status}");
        child.0 = Command::new("true").spawn().unwrap();
    }
    let _: () = redis::cmd("PING").query_async(&mut conn).await.unwrap();
    delete_prefix(&prefix);
}
