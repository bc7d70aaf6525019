//! The dashboard's Pause / Resume forms over real HTTP: only an `ops` session
//! sees them, a post needs the session's CSRF token, and a post that passes
//! does what `POST /api/queues/{queue}/pause|resume` does.
use axum::http::StatusCode;
use axum_test::TestServer;
use orders_flow::queue::NotificationJob;
use serde_json::{json, Value};

use super::console::{csrf_field, session};
use crate::support::TestApp;

const TOKENS: &str = "test-token,reader:read";
const PAUSE: &str = "/dashboard/queues/notifications/pause";
const RESUME: &str = "/dashboard/queues/notifications/resume";

/// `paused` of the notifications queue, as `GET /api/queues` says.
async fn api_paused(app: &TestApp) -> bool {
    let listed = app
        .server()
        .get("/api/queues")
        .authorization_bearer("reader")
        .await;
    listed.assert_status_ok();
    let name = app.services().queue::<NotificationJob>().name().to_string();
    listed.json::<Value>()["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == name)
        .unwrap()["paused"]
        .as_bool()
        .unwrap()
}

/// The dashboard's HTML for a session cookie.
async fn dashboard(server: &TestServer, cookie: &str) -> String {
    let page = server.get("/dashboard").add_header("Cookie", cookie).await;
    page.assert_status_ok();
    page.text()
}

#[tokio::test]
async fn an_ops_session_pauses_and_resumes_a_queue_from_the_dashboard() {
    let app = TestApp::boot_with(|s| s["api"]["tokens"] = json!(TOKENS)).await;
    let server = app.http_server();
    let cookie = session(&server, "test-token").await;
    let html = dashboard(&server, &cookie).await;
    let csrf = csrf_field(&html);
    assert!(
        html.contains(&format!("action=\"{PAUSE}\"")),
        "no pause form:\n{html}"
    );

    let paused = server
        .post(PAUSE)
        .add_header("Cookie", cookie.clone())
        .form(&[("csrf", csrf.as_str())])
        .await;
    assert_eq!(paused.status_code(), StatusCode::SEE_OTHER);
    assert_eq!(paused.header("location"), "/dashboard");
    assert!(api_paused(&app).await, "the API says paused");
    let html = dashboard(&server, &cookie).await;
    assert!(
        html.contains(&format!("action=\"{RESUME}\"")),
        "a paused queue offers Resume:\n{html}"
    );
    assert!(html.contains(
        "<tr data-stats-row=\"notifications\" class=\"warn\"><td>notifications</td><td class=\"text\"><span data-stat=\"state\">paused</span>"
    ), "{html}");

    let resumed = server
        .post(RESUME)
        .add_header("Cookie", cookie.clone())
        .form(&[("csrf", csrf.as_str())])
        .await;
    assert_eq!(resumed.status_code(), StatusCode::SEE_OTHER);
    assert!(!api_paused(&app).await, "the API says running");
    let html = dashboard(&server, &cookie).await;
    assert!(html.contains(&format!("action=\"{PAUSE}\"")), "{html}");
}

#[tokio::test]
async fn the_forms_refuse_a_read_session_a_missing_or_stale_csrf_token_and_no_credential() {
    let app = TestApp::boot_with(|s| s["api"]["tokens"] = json!(TOKENS)).await;
    let server = app.http_server();

    // A read session sees the state but no button, and its post is refused.
    let reader = session(&server, "reader").await;
    let html = dashboard(&server, &reader).await;
    let reader_csrf = csrf_field(&html);
    assert!(
        html.contains("<span data-stat=\"state\">running</span>"),
        "{html}"
    );
    assert!(
        !html.contains("/dashboard/queues/") && !html.contains("data-action=\"retry\""),
        "a read session sees no operating button:\n{html}"
    );
    let mut answers = Vec::new();
    let refused = server
        .post(PAUSE)
        .add_header("Cookie", reader.clone())
        .form(&[("csrf", reader_csrf.as_str())])
        .await;
    answers.push(json!({"case": "read session", "status": refused.status_code().as_u16(), "body": refused.json::<Value>()}));

    // An ops session without its token, or with another session's.
    let operator = session(&server, "test-token").await;
    let operator_csrf = csrf_field(&dashboard(&server, &operator).await);
    assert_ne!(operator_csrf, reader_csrf);
    for (case, form) in [
        ("no csrf field", vec![]),
        ("empty csrf", vec![("csrf", String::new())]),
        (
            "another session's csrf",
            vec![("csrf", reader_csrf.clone())],
        ),
    ] {
        let refused = server
            .post(PAUSE)
            .add_header("Cookie", operator.clone())
            .form(&form)
            .await;
        answers.push(json!({"case": case, "status": refused.status_code().as_u16(), "body": refused.json::<Value>()}));
    }
    // The CSRF header the JavaScript sends does not stand in for the form's field.
    let header_only = server
        .post(PAUSE)
        .add_header("Cookie", operator.clone())
        .add_header("X-CSRF-Token", operator_csrf.clone())
        .await;
    answers.push(json!({"case": "header, no form", "status": header_only.status_code().as_u16(), "body": header_only.json::<Value>()}));

    let anonymous = server.post(PAUSE).form(&[("csrf", "x")]).await;
    answers.push(json!({"case": "no credential", "status": anonymous.status_code().as_u16(), "body": anonymous.json::<Value>()}));
    let unknown = server
        .post("/dashboard/queues/nope/pause")
        .add_header("Cookie", operator.clone())
        .form(&[("csrf", operator_csrf.as_str())])
        .await;
    answers.push(json!({"case": "unknown queue", "status": unknown.status_code().as_u16(), "body": unknown.json::<Value>()}));
    insta::assert_json_snapshot!(answers);
    assert!(!api_paused(&app).await, "nothing refused paused the queue");
}
