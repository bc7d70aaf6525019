//! Helpers for refund tests: an app whose payments and refunds always succeed,
//! requests with or without token and key, and what the database holds.
use axum::http::StatusCode;
use axum_test::{TestRequest, TestResponse, TestServer};
use orders_flow::models::_entities::{idempotency_keys, orders, refunds};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use tokio::sync::Barrier;

use super::TestApp;

pub const TOKEN: &str = "test-token";

/// Payments always approved; refunds approved at `refund_success_rate`.
pub async fn boot_with_refund_rate(refund_success_rate: f64) -> TestApp {
    boot_with(|s| s["payment"]["refund_success_rate"] = json!(refund_success_rate)).await
}

/// Like [`boot`], with a chance to change the `settings:` block afterwards.
pub async fn boot_with(tweak: impl FnOnce(&mut Value)) -> TestApp {
    TestApp::boot_with(|s| {
        s["payment"]["success_rate"] = json!(1.0);
        s["payment"]["refund_success_rate"] = json!(1.0);
        s["api"]["tokens"] = json!(format!("{TOKEN},second-token"));
        tweak(s);
    })
    .await
}

pub async fn boot() -> TestApp {
    boot_with_refund_rate(1.0).await
}

/// `POST /api/orders/{order}/refunds` with the token, `key` (if any) and a raw body.
pub fn post(server: &TestServer, order: &str, key: Option<&str>, body: &str) -> TestRequest {
    let request = server
        .post(&format!("/api/orders/{order}/refunds"))
        .add_header("Authorization", format!("Bearer {TOKEN}"))
        .text(body.to_string())
        .content_type("application/json");
    match key {
        Some(key) => request.add_header("Idempotency-Key", key.to_string()),
        None => request,
    }
}

/// Sends every request at once (all in flight together, released by a barrier)
/// and returns (status, replayed, body) for each. Each request runs on its own
/// pooled database connection, so their statements really interleave.
pub async fn all_at_once(requests: Vec<TestRequest>) -> Vec<(StatusCode, bool, Value)> {
    let start = Barrier::new(requests.len());
    let start = &start;
    futures::future::join_all(requests.into_iter().map(|request| async move {
        start.wait().await;
        let response = request.await;
        (
            response.status_code(),
            response.maybe_header("Idempotent-Replayed").is_some(),
            serde_json::from_str::<Value>(&response.text()).unwrap_or(Value::Null),
        )
    }))
    .await
}

/// Status, replay header and JSON body: what a snapshot of a response holds.
pub fn summary(response: &TestResponse) -> Value {
    json!({
        "status": response.status_code().as_u16(),
        "replayed": response
            .maybe_header("Idempotent-Replayed")
            .map(|v| v.to_str().unwrap_or_default().to_string()),
        "body": serde_json::from_str::<Value>(&response.text()).unwrap_or(Value::Null),
    })
}

pub async fn order(app: &TestApp, id: i64) -> orders::Model {
    orders::Entity::find_by_id(id)
        .one(&app.ctx().db)
        .await
        .unwrap()
        .unwrap()
}

pub async fn refunds_of(app: &TestApp, order_id: i64) -> Vec<refunds::Model> {
    refunds::Entity::find()
        .filter(refunds::Column::OrderId.eq(order_id))
        .order_by_asc(refunds::Column::Id)
        .all(&app.ctx().db)
        .await
        .unwrap()
}

pub async fn key_rows(app: &TestApp) -> u64 {
    idempotency_keys::Entity::find()
        .count(&app.ctx().db)
        .await
        .unwrap()
}
