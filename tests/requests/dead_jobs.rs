//! `GET /api/queues/{queue}/dead` and `POST /api/queues/{queue}/dead/retry`,
//! on a job a real worker killed.
use std::time::Duration;

use axum::http::StatusCode;
use orders_flow::queue::NotificationJob;
use serde_json::json;

use crate::support::{
    dead_jobs::{app_with_a_dead_notification, dead_notification},
    eventually,
    jobs::start_worker,
    smtp::{app_mailing_to, SmtpSink},
    TestApp,
};

const TOKEN: &str = "Bearer test-token";

fn redacted(app: &TestApp, id: &str, text: &str) -> String {
    text.replace(&app.prefix, "[prefix]")
        .replace(id, "[job id]")
}

#[tokio::test]
async fn a_dead_job_is_listed_then_retried_and_runs_to_done() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, 0).await;
    let workers = start_worker::<NotificationJob>(&app).await;
    let id = dead_notification(&app, &sink).await;
    let server = app.server();

    let listed = server
        .get("/api/queues/notifications/dead")
        .authorization_bearer("test-token")
        .await;
    listed.assert_status_ok();
    let page: serde_json::Value = listed.json();
    assert_eq!(page["total"], 1);
    let job = &page["jobs"][0];
    assert_eq!(job["id"], id.as_str());
    assert!(job["died_at"].as_i64().unwrap() > 0);
    let error = job["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("554"), "{error}");
    insta::assert_json_snapshot!("dead_list", page, {
        ".jobs[].id" => "[job id]",
        ".jobs[].died_at" => "[time]",
        ".jobs[].payload.notification_ids[]" => "[row id]",
        ".jobs[].last_error" => "[smtp error]",
    });

    sink.reject_mail_from(0);
    let retried = server
        .post("/api/queues/notifications/dead/retry")
        .add_header("Authorization", TOKEN)
        .json(&json!({ "ids": [id] }))
        .await;
    retried.assert_status_ok();
    insta::assert_snapshot!("dead_retried", retried.text());
    let queue = app.services().queue::<NotificationJob>();
    let counts = eventually(
        "the retried job to finish",
        Duration::from_secs(30),
        || async {
            let counts = queue.counts().await.unwrap();
            (counts.done == 1).then_some(counts)
        },
    )
    .await;
    workers.stop().await;
    assert_eq!((counts.dead, counts.pending, counts.running), (0, 0, 0));
    let again = server
        .get("/api/queues/notifications/dead")
        .authorization_bearer("test-token")
        .await
        .json::<serde_json::Value>();
    assert_eq!(again["total"], 0);
}

#[tokio::test]
async fn garbage_gets_a_clear_error_and_changes_nothing() {
    let (_sink, app, id) = app_with_a_dead_notification().await;
    let server = app.server();
    let retry = "/api/queues/notifications/dead/retry";

    let no_token = server.post(retry).json(&json!({ "all": true })).await;
    no_token.assert_status_unauthorized();
    let bad_token = server
        .post(retry)
        .add_header("Authorization", "Bearer nope")
        .json(&json!({ "all": true }))
        .await;
    bad_token.assert_status_unauthorized();

    let cases: [(&str, &str, String, StatusCode); 10] = [
        (
            "unknown_queue",
            "/api/queues/nope/dead/retry",
            json!({ "all": true }).to_string(),
            StatusCode::NOT_FOUND,
        ),
        (
            "unknown_id",
            retry,
            json!({ "ids": [id, "0190f0c2-0000-7000-8000-000000000000"] }).to_string(),
            StatusCode::NOT_FOUND,
        ),
        (
            "numeric_id",
            retry,
            r#"{"ids": [42]}"#.to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "malformed_id",
            retry,
            json!({ "ids": ["../../etc"] }).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "empty_body",
            retry,
            String::new(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "empty_ids",
            retry,
            json!({ "ids": [] }).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "all_false",
            retry,
            json!({ "all": false }).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "both",
            retry,
            json!({ "all": true, "ids": [id] }).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "unknown_field",
            retry,
            json!({ "id": id }).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "not_json",
            retry,
            "retry please".to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (name, path, body, status) in cases {
        let response = server
            .post(path)
            .add_header("Authorization", TOKEN)
            .text(body)
            .content_type("application/json")
            .await;
        response.assert_status(status);
        insta::assert_snapshot!(
            format!("retry_{name}"),
            redacted(&app, &id, &response.text())
        );
    }
    for (name, path) in [
        ("list_unknown_queue", "/api/queues/nope/dead"),
        ("list_bad_limit", "/api/queues/notifications/dead?limit=abc"),
        ("list_zero_limit", "/api/queues/notifications/dead?limit=0"),
    ] {
        let response = server.get(path).authorization_bearer("test-token").await;
        assert!(response.status_code().is_client_error(), "{name}");
        insta::assert_snapshot!(name, response.text());
    }

    let counts = app
        .services()
        .queue::<NotificationJob>()
        .counts()
        .await
        .unwrap();
    assert_eq!(
        (counts.dead, counts.pending, counts.scheduled),
        (1, 0, 0),
        "nothing moved"
    );
    let listed = server
        .get("/api/queues/notifications/dead")
        .authorization_bearer("test-token")
        .await
        .json::<serde_json::Value>();
    assert_eq!(listed["jobs"][0]["id"], id.as_str());
}
