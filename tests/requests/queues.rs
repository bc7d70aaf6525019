use std::time::Duration;

use orders_flow::queue::NotificationJob;

use crate::support::{eventually, jobs::start_worker, TestApp};

#[tokio::test]
async fn lists_the_four_queues_under_the_prefix() {
    let app = TestApp::boot().await;
    let response = app
        .server()
        .get("/api/queues")
        .authorization_bearer("test-token")
        .await;
    response.assert_status_ok();
    let body = response.text().replace(&app.prefix, "[prefix]");
    insta::assert_snapshot!(body);
}

#[tokio::test]
async fn live_workers_count_only_workers_that_beat_recently() {
    let app = TestApp::boot().await;
    let workers = start_worker::<NotificationJob>(&app).await;
    let server = app.server();
    let live = eventually(
        "the worker to register",
        Duration::from_secs(20),
        || async {
            let body: serde_json::Value = server
                .get("/api/queues")
                .authorization_bearer("test-token")
                .await
                .json();
            let live: Vec<u64> = body["queues"]
                .as_array()
                .unwrap()
                .iter()
                .map(|q| q["live_workers"].as_u64().unwrap())
                .collect();
            (live[2] == 1).then_some(live)
        },
    )
    .await;
    workers.stop().await;
    assert_eq!(live, [0, 0, 1, 0], "only notifications is worked");
}
