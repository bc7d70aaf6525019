//! The web side while Redis is down (issue 18 §4), over real HTTP against a
//! private `redis-server` that the test SIGKILLs and starts again on its port.
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum_test::{TestResponse, TestServer};
use serde_json::{json, Value};

use orders_flow::{models::_entities::orders, queue::RefundJob};

use crate::support::{refunds, seed, servers::PrivateRedis, TestApp};

/// Every route that reads Redis, as an operator or a client calls it.
const REDIS_ROUTES: [&str; 8] = [
    "/api/metrics",
    "/api/metrics/range?from=2026-01-01&to=2026-01-03",
    "/api/leaderboard",
    "/api/queues",
    "/api/queues/notifications/dead",
    "/api/ops/canary",
    "/dashboard",
    "/dashboard/kpis",
];

/// The bound the issue sets on an answer while Redis is down.
const FAST: Duration = Duration::from_millis(500);

async fn app_on(redis: &PrivateRedis) -> TestApp {
    let url = redis.url();
    TestApp::boot_with(|s| s["redis"]["url"] = json!(url)).await
}

/// `GET path` with the test token, and how long the answer took.
async fn timed_get(
    server: &TestServer,
    path: &str,
    accept: Option<&str>,
) -> (TestResponse, Duration) {
    let mut request = server.get(path).authorization_bearer("test-token");
    if let Some(accept) = accept {
        request = request.add_header("Accept", accept);
    }
    let started = Instant::now();
    let response = request.await;
    (response, started.elapsed())
}

fn body(response: &TestResponse) -> Value {
    serde_json::from_str(&response.text()).unwrap_or(Value::Null)
}

/// 503, `Retry-After` in whole seconds, the JSON error shape, within [`FAST`].
fn assert_unavailable(path: &str, response: &TestResponse, took: Duration) {
    assert_503(path, response);
    assert!(took < FAST, "{path} took {took:?} while Redis was down");
}

/// 503, `Retry-After` in whole seconds, the JSON error shape.
fn assert_503(path: &str, response: &TestResponse) {
    assert_eq!(
        response.status_code(),
        StatusCode::SERVICE_UNAVAILABLE,
        "{path}: {}",
        response.text()
    );
    let retry_after = response.header("retry-after");
    let secs: u64 = retry_after
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!(secs >= 1, "{path}: Retry-After {secs}");
    let body = body(response);
    assert_eq!(body["error"], "redis_unavailable", "{path}: {body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("Redis")),
        "{path}: {body}"
    );
}

async fn assert_all_ok(server: &TestServer, when: &str) {
    for path in REDIS_ROUTES {
        let (response, _) = timed_get(server, path, None).await;
        assert_eq!(
            response.status_code(),
            StatusCode::OK,
            "{path} {when}: {}",
            response.text()
        );
    }
    let (ready, _) = timed_get(server, "/_readiness", None).await;
    assert_eq!(
        ready.status_code(),
        StatusCode::OK,
        "{when}: {}",
        ready.text()
    );
}

#[tokio::test]
async fn while_redis_is_down_its_routes_answer_503_at_once_and_recover_on_the_first_request() {
    let mut redis = PrivateRedis::start();
    let app = app_on(&redis).await;
    let server = app.http_server();
    assert_all_ok(&server, "before the outage").await;

    redis.kill();
    // Twice each: the second request meets the connection the first one's
    // failure started, which must not hang either.
    let mut slowest = Duration::ZERO;
    for round in 0..2 {
        for path in REDIS_ROUTES {
            let (response, took) = timed_get(&server, path, None).await;
            assert_unavailable(&format!("{path} (round {round})"), &response, took);
            slowest = slowest.max(took);
        }
    }
    eprintln!("slowest 503 while Redis was down: {slowest:?}");
    // Writes too: they use the web side's fail-fast connection.
    for path in [
        "/api/queues/notifications/dead/discard",
        "/api/queues/notifications/dead/retry",
    ] {
        let started = Instant::now();
        let response = server
            .post(path)
            .authorization_bearer("test-token")
            .json(&json!({ "all": true }))
            .await;
        assert_unavailable(path, &response, started.elapsed());
    }
    let (page, took) = timed_get(&server, "/dashboard", Some("text/html,*/*;q=0.8")).await;
    assert_eq!(page.status_code(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(took < FAST, "the outage page took {took:?}");
    assert!(page.maybe_header("retry-after").is_some());
    assert!(page
        .header("content-type")
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(page.text().contains("Redis unreachable"), "{}", page.text());

    let (ready, took) = timed_get(&server, "/_readiness", None).await;
    assert_eq!(ready.status_code(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(took < FAST, "/_readiness took {took:?}");
    assert!(ready.maybe_header("retry-after").is_some());
    let ready = body(&ready);
    assert_eq!(ready["error"], "not_ready", "{ready}");
    assert!(
        ready["message"].as_str().unwrap().contains("Redis"),
        "{ready}"
    );
    assert_eq!(ready["redis"], "down");
    assert_eq!(ready["database"], "up");
    let (health, _) = timed_get(&server, "/_health", None).await;
    assert_eq!(health.status_code(), StatusCode::OK, "liveness stays green");

    redis.start_again();
    assert_all_ok(&server, "on the first request after the restart").await;
}

#[tokio::test]
async fn a_connection_broken_by_a_restart_is_replaced_on_the_first_read() {
    let mut redis = PrivateRedis::start();
    let app = app_on(&redis).await;
    let server = app.http_server();
    assert_all_ok(&server, "before the restart").await;
    // No request while it is down: the web connection still holds the socket
    // the old server closed (the "broken pipe" of issue 18).
    redis.restart_empty();
    assert_all_ok(&server, "on the first request after the restart").await;
}

#[tokio::test]
async fn readiness_and_health_are_green_with_everything_up() {
    let redis = PrivateRedis::start();
    let app = app_on(&redis).await;
    let server = app.http_server();
    let (ready, _) = timed_get(&server, "/_readiness", None).await;
    assert_eq!(ready.status_code(), StatusCode::OK);
    assert_eq!(
        body(&ready),
        json!({ "ok": true, "database": "up", "redis": "up" })
    );
    let (health, _) = timed_get(&server, "/_health", None).await;
    assert_eq!(health.status_code(), StatusCode::OK);
}

#[tokio::test]
async fn a_redis_that_hangs_gets_503_within_the_bound_too() {
    let redis = PrivateRedis::start();
    let app = app_on(&redis).await;
    let server = app.http_server();
    assert_all_ok(&server, "before the hang").await;
    redis.pause(false);
    for path in ["/api/metrics", "/api/queues", "/dashboard"] {
        // A hung Redis costs each request up to 400 ms by design (a command
        // timeout, then the probe), which leaves the bound little room for a
        // busy machine: the fastest of three answers is held to it. A missing
        // bound still fails every one of them.
        let mut fastest = Duration::MAX;
        for _ in 0..3 {
            let (response, took) = timed_get(&server, path, None).await;
            assert_503(path, &response);
            fastest = fastest.min(took);
        }
        assert!(
            fastest < FAST,
            "{path} took {fastest:?} (fastest of 3) while Redis hung"
        );
    }
    redis.pause(true);
    assert_all_ok(&server, "once Redis answers again").await;
}

/// Asks for a 25.00 refund of `order` and checks it is accepted within a
/// second and recorded as pending.
async fn refund_accepted_at_once(
    app: &TestApp,
    server: &TestServer,
    paid: &orders::Model,
    when: &str,
) {
    let order = paid.external_id.as_str();
    let started = Instant::now();
    let response = refunds::post(
        server,
        order,
        Some(&format!("key-{order}")),
        r#"{"amount_cents": 2500, "reason": "damaged"}"#,
    )
    .await;
    let took = started.elapsed();
    eprintln!("refund request {when}: {took:?}");
    // Committed in the database: accepted, whatever Redis does; its job is
    // queued by the push that goes on in the background or by the sweep.
    assert_eq!(
        response.status_code(),
        StatusCode::ACCEPTED,
        "{when}: {}",
        response.text()
    );
    assert!(
        took < Duration::from_secs(1),
        "the refund request took {took:?} {when}"
    );
    let rows = refunds::refunds_of(app, paid.id).await;
    assert_eq!(
        rows.iter()
            .map(|r| (r.amount_cents, r.status.as_str()))
            .collect::<Vec<_>>(),
        [(2_500, "pending")],
        "{when}"
    );
}

#[tokio::test]
async fn a_refund_asked_for_while_redis_is_down_or_hangs_is_accepted_at_once_and_kept() {
    let mut redis = PrivateRedis::start();
    let app = app_on(&redis).await;
    let hung = seed::paid_order(app.ctx(), "ORD-HUNG-1", 10_000).await;
    let down = seed::paid_order(app.ctx(), "ORD-DOWN-1", 10_000).await;
    let server = app.http_server();

    // A Redis that hangs: before the bound, the request waited for the
    // connection's 5 s timeout.
    redis.pause(false);
    refund_accepted_at_once(&app, &server, &hung, "while Redis hangs").await;
    redis.pause(true);
    // The push went on in the background and lands once Redis answers.
    let queue = app.services().queue::<RefundJob>();
    let deadline = Instant::now() + Duration::from_secs(10);
    while queue.counts().await.map_or(0, |c| c.pending) < 1 {
        assert!(
            Instant::now() < deadline,
            "the refund job never reached the queue"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    redis.kill();
    refund_accepted_at_once(&app, &server, &down, "while Redis is down").await;
}
