//! Every error leaves in the one shape, `{"error": code, "message": …}`:
//! also those that axum, tower-http and Loco answer without a handler of ours
//! (no route, wrong method, body too large, undecodable path), a body that is
//! not JSON, and a route whose Redis is gone. No `X-Powered-By` either.
use std::time::Duration;

use axum::http::{Method, StatusCode};
use axum_test::{TestRequest, TestServer};
use serde_json::{json, Value};

use crate::support::{eventually, TestApp};

const TOKEN: &str = "Bearer test-token";

/// What a snapshot holds of an answer: status, the `Allow` header when there
/// is one, the content type and the body (`null` when it is not JSON).
async fn answer(request: TestRequest) -> Value {
    let response = request.await;
    assert!(
        response.maybe_header("x-powered-by").is_none(),
        "no X-Powered-By"
    );
    let body = serde_json::from_str::<Value>(&response.text()).unwrap_or(Value::Null);
    assert!(
        body["error"].is_string() && body["message"].is_string(),
        "{} {}",
        response.status_code(),
        response.text()
    );
    json!({
        "status": response.status_code().as_u16(),
        "allow": response.maybe_header("allow").map(|v| v.to_str().unwrap().to_string()),
        "content_type": response.header("content-type").to_str().unwrap(),
        "body": body,
    })
}

fn refund(server: &TestServer, content_type: Option<&str>, body: Vec<u8>) -> TestRequest {
    let request = server
        .post("/api/orders/ORD-1/refunds")
        .add_header("Authorization", TOKEN)
        .add_header("Idempotency-Key", "key-1")
        .bytes(body.into());
    match content_type {
        Some(t) => request.content_type(t),
        None => request,
    }
}

#[tokio::test]
async fn what_no_handler_of_ours_answers_is_json_too() {
    let app = TestApp::boot().await;
    let server = app.server();
    let amount = br#"{"amount_cents": 100}"#.to_vec();
    let cases: Vec<(&str, TestRequest)> = vec![
        (
            "no route",
            server
                .get("/no/such/page")
                .authorization_bearer("test-token"),
        ),
        (
            "the root",
            server.get("/").authorization_bearer("test-token"),
        ),
        (
            "a trailing slash",
            server
                .get("/api/metrics/")
                .authorization_bearer("test-token"),
        ),
        (
            "wrong method",
            server.method(Method::DELETE, "/api/metrics"),
        ),
        ("wrong method on an order", server.put("/api/orders/ORD-1")),
        (
            "GET on the refunds route",
            server
                .get("/api/orders/ORD-1/refunds")
                .authorization_bearer("test-token"),
        ),
        (
            "path not UTF-8",
            server
                .get("/api/orders/%FF%FE")
                .authorization_bearer("test-token"),
        ),
        (
            "import id not UTF-8",
            server
                .get("/api/imports/%C3%28")
                .authorization_bearer("test-token"),
        ),
        (
            "body over the 2 MB limit",
            refund(&server, Some("application/json"), vec![b' '; 2_000_001]),
        ),
        (
            "body without a content type",
            refund(&server, None, amount.clone()),
        ),
        ("form content type (curl -d)", {
            refund(
                &server,
                Some("application/x-www-form-urlencoded"),
                amount.clone(),
            )
        }),
        (
            "text content type",
            refund(&server, Some("text/plain"), amount),
        ),
        (
            "body not JSON",
            refund(&server, Some("application/json"), b"amount=100".to_vec()),
        ),
        (
            "retry body not JSON typed",
            server
                .post("/api/queues/refunds/dead/retry")
                .add_header("Authorization", TOKEN)
                .text(r#"{"all": true}"#),
        ),
    ];
    let mut answers = Vec::new();
    for (name, request) in cases {
        answers.push(json!({ "case": name, "answer": answer(request).await }));
    }
    insta::assert_json_snapshot!("without_a_handler", answers);
}

/// A Redis of its own that the test can stop.
struct PrivateRedis(std::process::Child);

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_queues_route_answers_in_the_shape_when_redis_is_gone() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redis = PrivateRedis(
        std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server"),
    );
    let url = format!("redis://127.0.0.1:{port}");
    eventually("the private redis", Duration::from_secs(10), || {
        let url = url.clone();
        async move { apalis_redis::connect(url.as_str()).await.ok() }
    })
    .await;
    let app = TestApp::boot_with(|s| s["redis"]["url"] = json!(url)).await;
    let server = app.server();
    server
        .get("/api/queues")
        .authorization_bearer("test-token")
        .await
        .assert_status_ok();
    drop(redis);

    let gone = answer(server.get("/api/queues").authorization_bearer("test-token")).await;
    assert_eq!(gone["status"], StatusCode::SERVICE_UNAVAILABLE.as_u16());
    insta::assert_json_snapshot!("queues_without_redis", gone);
}
