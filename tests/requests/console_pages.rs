//! The console's views over HTTP: behind the login, bad input answered in the
//! JSON error shape, and what a `read` session may not do.
use axum::http::StatusCode;
use serde_json::json;

use crate::support::{dead_jobs::dead_notification, jobs::start_worker, smtp::SmtpSink, TestApp};
use orders_flow::queue::NotificationJob;

const PAGES: [&str; 5] = [
    "/dashboard/workers",
    "/dashboard/dead",
    "/dashboard/jobs/notifications/0190a1b2-c3d4",
    "/dashboard/imports",
    "/dashboard/stuck",
];

#[tokio::test]
async fn every_view_needs_a_login() {
    let app = TestApp::boot().await;
    let server = app.http_server();
    for page in PAGES {
        let response = server.get(page).await;
        assert_eq!(response.status_code(), StatusCode::SEE_OTHER, "{page}");
        assert_eq!(response.header("location"), "/console/login", "{page}");
    }
}

#[tokio::test]
async fn the_views_render_and_bad_input_gets_the_json_error() {
    let app = TestApp::boot().await;
    let server = app.server();
    for page in [
        "/dashboard/workers",
        "/dashboard/dead",
        "/dashboard/imports",
        "/dashboard/stuck",
    ] {
        let response = server.get(page).authorization_bearer("test-token").await;
        response.assert_status_ok();
        assert!(response.text().contains("<div id=\"live\""), "{page}");
    }
    let mut answers = Vec::new();
    for bad in [
        "/dashboard/stuck?minutes=0",
        "/dashboard/stuck?minutes=10081",
        "/dashboard/stuck?days=1",
        "/dashboard/dead?queue=refunds",
        "/dashboard/jobs/nope/0190a1b2",
        "/dashboard/jobs/notifications/bad%20id",
        "/dashboard/jobs/notifications/0190a1b2-c3d4",
    ] {
        let response = server.get(bad).authorization_bearer("test-token").await;
        answers.push(json!({
            "path": bad,
            "status": response.status_code().as_u16(),
            "body": response.json::<serde_json::Value>(),
        }));
    }
    insta::assert_json_snapshot!(answers);
}

#[tokio::test]
async fn a_read_session_sees_a_dead_job_without_buttons_to_operate_it() {
    let sink = SmtpSink::start().await;
    // As `smtp::app_mailing_to(sink, 0)`, with a `reader` token of the read scope only.
    let app = TestApp::boot_config(|config| {
        sink.configure(config);
        let settings = config.settings.as_mut().expect("settings");
        settings["queues"]["notifications"] =
            json!({ "concurrency": 4, "retries": 0, "backoff_ms": 10, "timeout_secs": 5 });
        settings["api"]["tokens"] = json!("test-token,reader:read");
    })
    .await;
    let workers = start_worker::<NotificationJob>(&app).await;
    let id = dead_notification(&app, &sink).await;
    workers.stop().await;
    let server = app.server();
    for (token, operates) in [("test-token", true), ("reader", false)] {
        for page in [
            "/dashboard/dead?order=O-DEAD".to_string(),
            format!("/dashboard/jobs/notifications/{id}"),
        ] {
            let html = server.get(&page).authorization_bearer(token).await.text();
            assert!(html.contains(&id), "{page}: {html}");
            assert_eq!(
                html.contains("data-action=\"discard\""),
                operates,
                "{token} {page}: {html}"
            );
        }
    }
}
