//! Scopes: every protected route answers 401 without a credential, 403 with a
//! token lacking its scope, and does its work with one that has it. Customer
//! data is masked for callers without `ops`.
use axum::http::Method;
use axum_test::TestServer;
use orders_flow::{models::statuses::OrderStatus, workers::dead::OperatedQueue};
use serde_json::json;

use crate::support::{shop, TestApp};

/// Every scope, `read` only, `refunds` only, `ops` only, and a listed-before-scopes token.
const TOKENS: &str =
    "all-token,read-token:read,refunds-token:refunds,ops-token:ops,read-ops:read+ops";
const CREDENTIALS: [(&str, Option<&str>); 6] = [
    ("none", None),
    ("wrong", Some("nope")),
    ("read", Some("read-token")),
    ("refunds", Some("refunds-token")),
    ("ops", Some("ops-token")),
    ("all", Some("all-token")),
];

async fn app() -> TestApp {
    TestApp::boot_with(|s| s["api"]["tokens"] = json!(TOKENS)).await
}

async fn call(server: &TestServer, method: &Method, path: &str, token: Option<&str>) -> u16 {
    let mut request = server.method(method.clone(), path);
    if let Some(token) = token {
        request = request.authorization_bearer(token);
    }
    if path.ends_with("/retry") {
        request = request.json(&json!({ "ids": ["1-2"] }));
    } else if method == Method::POST && path.starts_with("/api/orders") {
        request = request
            .add_header("Idempotency-Key", "auth-matrix-key-1")
            .json(&json!({ "amount_cents": 100 }));
    }
    request.await.status_code().as_u16()
}

#[tokio::test]
async fn each_route_answers_each_scope() {
    let app = app().await;
    let server = app.server();
    let routes = [
        (Method::GET, "/dashboard"),
        (Method::GET, "/dashboard/kpis"),
        (Method::GET, "/metrics"),
        (Method::GET, "/api/queues"),
        (Method::GET, "/api/queues/notifications/dead"),
        (Method::POST, "/api/queues/notifications/dead/retry"),
        (Method::GET, "/api/ops/canary"),
        (Method::POST, "/api/ops/canary"),
        (Method::GET, "/api/metrics"),
        (
            Method::GET,
            "/api/metrics/range?from=2026-01-01&to=2026-01-02",
        ),
        (Method::GET, "/api/leaderboard"),
        (Method::GET, "/api/imports/1"),
        (Method::GET, "/api/orders/NOPE"),
        (Method::POST, "/api/orders/NOPE"),
        (Method::POST, "/api/orders/NOPE/refunds"),
        (Method::GET, "/api/refunds/1"),
        (Method::GET, "/_ping"),
        (Method::GET, "/_health"),
        (Method::GET, "/_readiness"),
    ];
    let mut table = String::new();
    for (method, path) in &routes {
        let mut line = format!("{:<5}{path:<52}", method.as_str());
        for (name, token) in CREDENTIALS {
            let status = call(&server, method, path, token).await;
            line.push_str(&format!(" {name}={status}"));
        }
        table.push_str(line.trim_end());
        table.push('\n');
    }
    insta::assert_snapshot!("scope_matrix", table);
}

#[tokio::test]
async fn refusals_say_why_in_the_one_error_shape() {
    let app = app().await;
    let server = app.server();
    let none = server.get("/api/queues").await;
    let wrong = server.get("/api/queues").authorization_bearer("nope").await;
    let scope = server
        .post("/api/queues/notifications/dead/retry")
        .authorization_bearer("read-token")
        .json(&json!({ "all": true }))
        .await;
    let page = server.get("/dashboard").await;
    insta::assert_json_snapshot!(
        "refusals",
        json!({
            "none": [none.status_code().as_u16(), none.json::<serde_json::Value>()],
            "wrong": [wrong.status_code().as_u16(), wrong.json::<serde_json::Value>()],
            "scope": [scope.status_code().as_u16(), scope.json::<serde_json::Value>()],
            "page": [page.status_code().as_u16(), page.header("location").to_str().unwrap()],
        })
    );
}

/// A dead import chunk as apalis-redis keeps it: id in `:dead`, payload in
/// `:data`, what happened in `:meta:{id}`.
async fn dead_import_chunk(app: &TestApp) {
    let queue = OperatedQueue::resolve(&app.services().settings, "orders:import").unwrap();
    let payload = json!({
        "import_id": 7, "seq": 0,
        "orders": [{
            "external_id": "ORD-9",
            "customer": {"external_id": "C-9", "email": "ada.lovelace@example.com", "name": "Ada Lovelace"},
            "currency": "EUR", "placed_at": null,
            "items": [{"sku": "MUG", "name": "Blue mug", "qty": 1, "unit_price_cents": 900}],
            "declared_total_cents": null, "first_line": 2,
        }],
    });
    let mut conn = app.redis().await;
    let () = redis::pipe()
        .sadd(format!("{}:dead", queue.full), "chunk-1")
        .ignore()
        .hset(
            format!("{}:data", queue.full),
            "chunk-1",
            payload.to_string(),
        )
        .ignore()
        .hset_multiple(
            format!("{}:meta:chunk-1", queue.full),
            &[
                ("done_at", "1767225600"),
                ("attempts", "3"),
                ("status", "Killed"),
                (
                    "result",
                    r#"{"Err":"constraint failed for ada.lovelace@example.com"}"#,
                ),
            ],
        )
        .ignore()
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn dead_payloads_show_customers_only_to_ops() {
    let app = app().await;
    dead_import_chunk(&app).await;
    let server = app.server();
    let read = |token: &'static str| {
        server
            .get("/api/queues/orders:import/dead")
            .authorization_bearer(token)
    };
    let masked: serde_json::Value = read("read-token").await.json();
    let whole: serde_json::Value = read("read-ops").await.json();
    let customer =
        |page: &serde_json::Value| page["jobs"][0]["payload"]["orders"][0]["customer"].clone();
    assert_eq!(
        customer(&masked),
        json!({"external_id": "C-9", "email": "a***@example.com", "name": "A***"})
    );
    assert_eq!(
        masked["jobs"][0]["last_error"],
        "constraint failed for a***@example.com"
    );
    assert_eq!(
        masked["jobs"][0]["payload"]["orders"][0]["items"][0]["name"],
        "Blue mug"
    );
    assert_eq!(
        customer(&whole),
        json!({"external_id": "C-9", "email": "ada.lovelace@example.com", "name": "Ada Lovelace"})
    );

    let page = |token: &'static str| server.get("/dashboard").authorization_bearer(token);
    let masked = page("read-token").await.text();
    let whole = page("read-ops").await.text();
    assert!(
        !masked.contains("ada.lovelace") && !masked.contains("Lovelace"),
        "{masked}"
    );
    assert!(masked.contains("a***@example.com"), "{masked}");
    assert!(whole.contains("ada.lovelace@example.com"), "{whole}");
}

#[tokio::test]
async fn prometheus_can_be_left_open_for_a_private_bind() {
    let app = TestApp::boot_with(|s| s["api"]["metrics_open"] = json!(true)).await;
    let server = app.server();
    server.get("/metrics").await.assert_status_ok();
    server.get("/api/queues").await.assert_status_unauthorized();
}

#[tokio::test]
async fn garbage_token_config_stops_the_start_with_the_reason() {
    for (tokens, says) in [
        ("good,tok:admin", "unknown scope `admin`"),
        ("tok:read,refunds", "is the scope name `refunds`"),
        ("tok:read;refunds", "unknown scope `read;refunds`"),
    ] {
        let error = TestApp::try_boot_config(|c| {
            c.settings.as_mut().unwrap()["api"]["tokens"] = json!(tokens);
        })
        .await
        .err()
        .unwrap_or_else(|| panic!("{tokens:?} booted"));
        let error = error.to_string();
        assert!(
            error.contains("settings.api.tokens (API_TOKENS)"),
            "{error}"
        );
        assert!(error.contains(says), "{tokens:?}: {error}");
    }
    let short = TestApp::try_boot_config(|c| {
        c.settings.as_mut().unwrap()["console"]["secret_key"] = json!("short");
    })
    .await
    .err()
    .expect("a short secret booted")
    .to_string();
    assert!(short.contains("at least 32 characters"), "{short}");
}

#[tokio::test]
async fn an_order_shows_its_customer_only_to_ops() {
    let app = app().await;
    let customer = shop::customer(&app, "C-7", Some("grace.hopper@example.com")).await;
    shop::order(&app, "ORD-7", &customer, OrderStatus::Paid, 1_000, None).await;
    let server = app.server();
    let show = |token: &'static str| server.get("/api/orders/ORD-7").authorization_bearer(token);
    let masked: serde_json::Value = show("read-token").await.json();
    let whole: serde_json::Value = show("read-ops").await.json();
    let customer =
        |o: &serde_json::Value| json!([o["customer_id"], o["customer_email"], o["customer_name"]]);
    assert_eq!(
        customer(&masked),
        json!(["C-7", "g***@example.com", "C***"])
    );
    assert_eq!(
        customer(&whole),
        json!(["C-7", "grace.hopper@example.com", "Customer C-7"])
    );
}
