//! One id, one order: `{id}` in a route is the order's external id, never its
//! internal row id, so a shop with numeric order numbers cannot reach another
//! order by accident.
use axum::http::StatusCode;
use orders_flow::models::_entities::orders;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::json;

use crate::support::{
    refunds::{all_at_once, boot_with, order, post, refunds_of, summary},
    seed, TestApp,
};

/// Three paid orders whose external ids are numbers: the first is called by
/// the second's row id, the second by the third's; the third keeps a name.
/// No order is called by the first's row id. Returns the orders in row order.
async fn numbered_orders(app: &TestApp) -> Vec<orders::Model> {
    let mut rows = Vec::new();
    for n in 1..=3 {
        rows.push(seed::paid_order(app.ctx(), &format!("TMP-{n}"), 10_000).await);
    }
    let names = [
        rows[1].id.to_string(),
        rows[2].id.to_string(),
        "ORD-3".into(),
    ];
    let mut renamed = Vec::new();
    for (row, name) in rows.into_iter().zip(names) {
        let mut active: orders::ActiveModel = row.into();
        active.external_id = Set(name);
        renamed.push(active.update(&app.ctx().db).await.unwrap());
    }
    renamed
}

/// A window wide enough for requests sent at once to share a batch: the first
/// request of an order is accepted in the batch, the second on the single path.
async fn boot() -> TestApp {
    boot_with(|s| s["refunds"]["batch_window_ms"] = json!(200)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refund_lands_on_the_order_named_and_a_row_id_reaches_none() {
    let app = boot().await;
    let rows = numbered_orders(&app).await;
    let (first, second) = (&rows[0], &rows[1]);
    let server = app.server();
    // `first` is called by `second`'s row id: that name means `first`.
    let name = second.id.to_string();
    assert_eq!(first.external_id, name);
    // Nobody's order number, but `first`'s row id: it used to refund `first`.
    let unknown = first.id.to_string();
    let answers = all_at_once(vec![
        post(&server, &name, Some("k-1"), r#"{"amount_cents": 1000}"#),
        post(&server, &name, Some("k-2"), r#"{"amount_cents": 2000}"#),
        post(&server, &unknown, Some("k-3"), r#"{"amount_cents": 4000}"#),
    ])
    .await;
    for (status, _, body) in &answers[..2] {
        assert_eq!(*status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["order_id"], name);
    }
    let (status, _, refused) = &answers[2];
    assert_eq!(*status, StatusCode::NOT_FOUND, "{refused}");
    assert_eq!(refused["error"], "order_not_found");
    let stats = app.services().refund_batcher.stats();
    assert!(
        stats.single >= 1,
        "one of the pair took the single path: {stats:?}"
    );
    assert_eq!(order(&app, first.id).await.refund_reserved_cents, 3_000);
    assert_eq!(refunds_of(&app, first.id).await.len(), 2);
    for other in &rows[1..] {
        assert_eq!(order(&app, other.id).await.refund_reserved_cents, 0);
        assert!(refunds_of(&app, other.id).await.is_empty());
    }
}

#[tokio::test]
async fn a_row_id_that_is_no_order_number_is_404_on_both_refund_routes() {
    let app = boot().await;
    let rows = numbered_orders(&app).await;
    let server = app.server();
    let unknown = rows[0].id.to_string();
    let refused = post(&server, &unknown, Some("k-1"), r#"{"amount_cents": 1000}"#).await;
    insta::assert_json_snapshot!("row_id_refund", summary(&refused), {
        ".body.message" => "[order]",
    });
    let seed_route = server
        .post(&format!("/api/orders/{unknown}"))
        .add_header("Authorization", "Bearer test-token")
        .add_header("Idempotency-Key", "k-2")
        .text(r#"{"amount_cents": 1000}"#)
        .content_type("application/json")
        .await;
    seed_route.assert_status(StatusCode::NOT_FOUND);
    for row in &rows {
        assert_eq!(order(&app, row.id).await.refund_reserved_cents, 0);
        assert!(refunds_of(&app, row.id).await.is_empty());
    }
}

#[tokio::test]
async fn get_shows_the_order_named_and_never_the_row_with_that_id() {
    let app = boot().await;
    let rows = numbered_orders(&app).await;
    let server = app.server();
    for row in &rows {
        let shown = server
            .get(&format!("/api/orders/{}", row.external_id))
            .authorization_bearer("test-token")
            .await;
        shown.assert_status_ok();
        let body: serde_json::Value = shown.json();
        assert_eq!(
            (body["id"].as_i64(), body["external_id"].as_str()),
            (Some(row.id), Some(row.external_id.as_str()))
        );
    }
    let by_row_id = server
        .get(&format!("/api/orders/{}", rows[0].id))
        .authorization_bearer("test-token")
        .await;
    insta::assert_json_snapshot!("row_id_show", summary(&by_row_id), {
        ".body.message" => "[order]",
    });
}
