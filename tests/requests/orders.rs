//! `GET /api/orders/{id}` and `GET /api/refunds/{id}`: what an operator sees.
use axum::http::StatusCode;
use orders_flow::workers::refund;

use crate::support::{
    refunds::{boot, post, refunds_of, summary},
    seed,
};

/// Times vary from run to run; whether there is one does not.
fn time() -> insta::internals::Redaction {
    insta::dynamic_redaction(|value, _| {
        if value.as_str().is_some() {
            insta::internals::Content::from("[time]")
        } else {
            value
        }
    })
}

#[tokio::test]
async fn an_order_shows_items_payments_refunds_and_notifications() {
    let app = boot().await;
    let paid = seed::paid_order(app.ctx(), "ORD-2025-001", 10_000).await;
    let server = app.server();
    post(
        &server,
        "ORD-2025-001",
        Some("key-1"),
        r#"{"amount": "25.00", "reason": "damaged"}"#,
    )
    .await
    .assert_status(StatusCode::ACCEPTED);
    post(
        &server,
        "ORD-2025-001",
        Some("key-2"),
        r#"{"amount_cents": 1000}"#,
    )
    .await
    .assert_status(StatusCode::ACCEPTED);
    let first = refunds_of(&app, paid.id).await[0].id;
    refund::process(&app.jobs(), first).await.unwrap();

    let shown = server
        .get("/api/orders/ORD-2025-001")
        .authorization_bearer("test-token")
        .await;
    shown.assert_status_ok();
    let body: serde_json::Value = shown.json();
    insta::assert_json_snapshot!("order_details", body, {
        ".placed_at" => time(),
        ".paid_at" => time(),
        ".payments[].created_at" => time(),
        ".refunds[].created_at" => time(),
        ".refunds[].processed_at" => time(),
    });
    // The row id shown as `id` is not an address (tests/requests/order_ids.rs).
    server
        .get(&format!("/api/orders/{}", paid.id))
        .authorization_bearer("test-token")
        .await
        .assert_status(StatusCode::NOT_FOUND);

    let refund = server
        .get(&format!("/api/refunds/{first}"))
        .authorization_bearer("test-token")
        .await;
    refund.assert_status_ok();
    let refund: serde_json::Value = refund.json();
    assert!(refund["processed_at"].is_string(), "{refund}");
    insta::assert_json_snapshot!("refund_details", refund, {
        ".created_at" => time(),
        ".processed_at" => time(),
    });
}

#[tokio::test]
async fn unknown_orders_and_refunds_are_404() {
    let app = boot().await;
    let server = app.server();
    let order = server
        .get("/api/orders/ORD-NOPE")
        .authorization_bearer("test-token")
        .await;
    insta::assert_json_snapshot!("order_not_found", summary(&order));
    let refund = server
        .get("/api/refunds/999")
        .authorization_bearer("test-token")
        .await;
    insta::assert_json_snapshot!("refund_not_found", summary(&refund));
    server
        .get("/api/refunds/not-a-number")
        .authorization_bearer("test-token")
        .await
        .assert_status(StatusCode::NOT_FOUND);
}
