//! Input that only looks right is refused with a reason, never guessed at:
//! amounts, days, query strings, bearer tokens, and garbage in every route.
use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::support::{
    refunds::{boot, key_rows, order, post, refunds_of},
    seed, TestApp,
};

/// Status and JSON body of a GET.
async fn get(app: &TestApp, uri: &str) -> Value {
    let response = app
        .server()
        .get(uri)
        .authorization_bearer("test-token")
        .await;
    json!({
        "status": response.status_code().as_u16(),
        "body": serde_json::from_str::<Value>(&response.text()).unwrap_or(Value::Null),
    })
}

#[tokio::test]
async fn amounts_are_written_plainly_or_refused() {
    let app = boot().await;
    let paid = seed::paid_order(app.ctx(), "ORD-1", 10_000).await;
    let server = app.server();
    let mut answers = Vec::new();
    for amount in [
        r#"" 1.00""#,
        r#""1.00 ""#,
        r#""00000000001.00""#,
        r#""01""#,
        r#""1.""#,
        r#"".5""#,
        r#""+1.00""#,
        r#""1e2""#,
        r#""1E2""#,
        "1e2",
        r#""1,00""#,
        r#""""#,
    ] {
        let body = format!(r#"{{"amount": {amount}}}"#);
        let response = post(&server, "ORD-1", Some("key-1"), &body).await;
        answers.push(json!({
            "amount": amount,
            "status": response.status_code().as_u16(),
            "body": response.json::<Value>(),
        }));
    }
    insta::assert_json_snapshot!("amounts", answers);
    assert!(answers.iter().all(|a| a["status"] == 422));
    assert!(refunds_of(&app, paid.id).await.is_empty());
    assert_eq!(key_rows(&app).await, 0);
    assert_eq!(order(&app, paid.id).await.refund_reserved_cents, 0);

    for (amount, cents) in [
        (r#""0.5""#, 50),
        (r#""1""#, 100),
        ("1.5", 150),
        (r#""2.25""#, 225),
    ] {
        let key = format!("ok-{cents}");
        let body = format!(r#"{{"amount": {amount}}}"#);
        let response = post(&server, "ORD-1", Some(&key), &body).await;
        response.assert_status(StatusCode::ACCEPTED);
        assert_eq!(response.json::<Value>()["amount_cents"], cents, "{amount}");
    }
}

#[tokio::test]
async fn days_have_four_digit_years_from_0001() {
    let app = TestApp::boot().await;
    let mut answers = Vec::new();
    for uri in [
        "/api/metrics?date=0000-01-01",
        "/api/metrics?date=-0001-01-01",
        "/api/metrics?date=%2B2025-01-01",
        "/api/metrics?date=+2025-01-01",
        "/api/metrics?date=10000-01-01",
        "/api/metrics?date=2025-02-29",
        "/api/metrics?date=2025-1-01",
        "/api/metrics/range?from=0000-12-31&to=0001-01-01",
        "/api/metrics/range?from=2025-01-01&to=%2B2025-01-02",
        "/api/leaderboard?date=-0001-12-31",
        "/api/leaderboard?date=262143-01-01",
    ] {
        answers.push(json!({ "uri": uri, "answer": get(&app, uri).await }));
    }
    insta::assert_json_snapshot!("days", answers);
    assert!(answers.iter().all(|a| a["answer"]["status"] == 400));

    let edge = get(&app, "/api/metrics/range?from=9999-12-30&to=9999-12-31").await;
    assert_eq!(edge["status"], 200, "{edge}");
    let first = get(&app, "/api/metrics?date=0001-01-01").await;
    assert_eq!(first["body"]["date"], "0001-01-01", "{first}");
}

#[tokio::test]
async fn query_strings_name_known_parameters_once() {
    let app = TestApp::boot().await;
    let mut answers = Vec::new();
    for uri in [
        "/api/metrics?dat=2025-10-27",
        "/api/metrics?date=2025-10-27&date=2025-10-28",
        "/api/metrics?limit=5&limit=5",
        "/api/metrics?date=%FF",
        "/api/metrics?limit=%2B5",
        "/api/metrics?limit=05",
        "/api/metrics?limit=%205",
        "/api/leaderboard?leaderboard=day",
        "/api/queues?verbose=1",
        "/api/queues/refunds/dead?limit=10&offset=5",
        "/api/orders/ORD-1?expand=items",
        "/api/imports/1?x",
        "/dashboard/kpis?days=7&days=8",
    ] {
        answers.push(json!({ "uri": uri, "answer": get(&app, uri).await }));
    }
    insta::assert_json_snapshot!("query_strings", answers);
    assert!(answers.iter().all(|a| a["answer"]["status"] == 400));
}

#[tokio::test]
async fn a_bearer_token_is_taken_exactly_as_configured() {
    let app = boot().await;
    let server = app.server();
    let canary = |authorization: &str| {
        server
            .post("/api/ops/canary")
            .add_header("Authorization", authorization.to_string())
    };
    for spaced in [
        "Bearer  test-token",
        "Bearer test-token ",
        "Bearer \ttest-token",
        "Bearer test-token\t",
        "Bearer\ttest-token",
        " Bearer test-token",
        "Bearer test-token,",
    ] {
        let response = canary(spaced).await;
        assert_eq!(
            response.status_code(),
            StatusCode::UNAUTHORIZED,
            "{spaced:?}"
        );
        assert_eq!(response.json::<Value>()["error"], "unauthorized");
    }
    let queued = app
        .services()
        .queue::<orders_flow::workers::canary::CanaryJob>()
        .counts()
        .await
        .unwrap();
    assert_eq!(queued.pending, 0, "nothing was queued");
    // The scheme's case does not matter (RFC 9110 §11.1); the token's does.
    canary("bearer test-token")
        .await
        .assert_status(StatusCode::ACCEPTED);
    canary("Bearer TEST-TOKEN")
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn garbage_in_any_route_is_a_4xx_in_the_one_shape() {
    let app = boot().await;
    seed::paid_order(app.ctx(), "ORD-1", 10_000).await;
    let server = app.server();
    let long = "9".repeat(10_000);
    let letters = "x".repeat(10_000);
    let uris = [
        format!("/api/orders/{letters}"),
        format!("/api/orders/{long}"),
        format!("/api/refunds/{long}"),
        format!("/api/imports/{long}"),
        format!("/api/queues/{letters}/dead"),
        "/api/refunds/+1".to_string(),
        "/api/refunds/01".to_string(),
        "/api/imports/-1".to_string(),
        "/api/imports/%C0%AF".to_string(),
        format!("/api/metrics?limit={long}"),
        format!("/api/leaderboard?date={letters}"),
        format!("/api/queues/refunds/dead?limit={long}"),
        format!("/dashboard/kpis?days={long}"),
        "/api/metrics?%FF=1".to_string(),
        format!("/api/metrics?{letters}=1"),
    ];
    let mut answers = Vec::new();
    for uri in &uris {
        let answer = get(&app, uri).await;
        let status = answer["status"].as_u64().unwrap();
        assert!((400..500).contains(&status), "{uri}: {answer}");
        assert!(answer["body"]["error"].is_string(), "{uri}: {answer}");
        let message = answer["body"]["message"].as_str().unwrap_or_default();
        assert!(message.len() < 400, "{uri}: a message of {}", message.len());
        answers.push(json!({ "uri": uri.chars().take(60).collect::<String>(), "answer": answer }));
    }
    insta::assert_json_snapshot!("garbage", answers);

    let refused = post(&server, &long, Some("key-long"), r#"{"amount_cents": 1}"#).await;
    refused.assert_status(StatusCode::NOT_FOUND);
    let huge_key = post(
        &server,
        "ORD-1",
        Some("key-huge"),
        &format!(r#"{{"amount_cents": {long}}}"#),
    )
    .await;
    huge_key.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
}
