//! The refund API through the real router: the IETF Idempotency-Key draft's
//! cases one by one, the validation of amounts, and the order checks.
use std::time::Duration;

use axum::http::StatusCode;
use orders_flow::{
    models::{
        _entities::{idempotency_keys, orders},
        idempotency_keys::{claim, Claim},
        refunds::RefundInput,
    },
    queue::RefundJob,
};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::support::{
    refunds::{boot, key_rows, order, post, refunds_of, summary, TOKEN},
    seed, TestApp,
};

const DAMAGED: &str = r#"{"amount_cents": 2500, "reason": "damaged"}"#;

#[tokio::test]
async fn a_refund_is_accepted_reserved_and_queued() {
    let app = boot().await;
    let paid = seed::paid_order(app.ctx(), "ORD-2025-001", 10_000).await;
    let response = post(&app.server(), "ORD-2025-001", Some("key-1"), DAMAGED).await;

    insta::assert_json_snapshot!("accepted", summary(&response));
    let refunds = refunds_of(&app, paid.id).await;
    assert_eq!(refunds.len(), 1);
    assert_eq!(
        (
            refunds[0].amount_cents,
            refunds[0].status.as_str(),
            refunds[0].reason.as_deref()
        ),
        (2_500, "pending", Some("damaged"))
    );
    let after = order(&app, paid.id).await;
    assert_eq!(
        (
            after.status.as_str(),
            after.refund_reserved_cents,
            after.refunded_cents
        ),
        ("paid", 2_500, 0),
        "reserved now, refunded when the job runs"
    );
    let queued = app.services().queue::<RefundJob>().counts().await.unwrap();
    assert_eq!(queued.pending, 1, "one refund job");
}

#[tokio::test]
async fn a_missing_or_malformed_key_is_400_and_nothing_is_written() {
    let app = boot().await;
    let paid = seed::paid_order(app.ctx(), "ORD-1", 10_000).await;
    let server = app.server();

    let missing = post(&server, "ORD-1", None, DAMAGED).await;
    insta::assert_json_snapshot!("missing_key", summary(&missing));
    let spaced = post(&server, "ORD-1", Some("two words"), DAMAGED).await;
    insta::assert_json_snapshot!("malformed_key", summary(&spaced));
    let long = post(&server, "ORD-1", Some(&"k".repeat(256)), DAMAGED).await;
    long.assert_status(StatusCode::BAD_REQUEST);
    let twice = post(&server, "ORD-1", Some("key-a"), DAMAGED)
        .add_header("Idempotency-Key", "key-b")
        .await;
    twice.assert_status(StatusCode::BAD_REQUEST);

    assert!(refunds_of(&app, paid.id).await.is_empty());
    assert_eq!(key_rows(&app).await, 0, "a 400 does not touch the keys");
    assert_eq!(order(&app, paid.id).await.refund_reserved_cents, 0);
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_401_and_nothing_is_written() {
    let app = boot().await;
    let paid = seed::paid_order(app.ctx(), "ORD-1", 10_000).await;
    let server = app.server();
    let anonymous = server
        .post("/api/orders/ORD-1/refunds")
        .add_header("Idempotency-Key", "key-1")
        .text(DAMAGED)
        .await;
    insta::assert_json_snapshot!("missing_token", summary(&anonymous));
    for token in [
        "Bearer wrong-token",
        "Bearer ",
        TOKEN,
        "Basic dGVzdC10b2tlbg==",
    ] {
        let wrong = server
            .post("/api/orders/ORD-1/refunds")
            .add_header("Authorization", token)
            .add_header("Idempotency-Key", "key-1")
            .text(DAMAGED)
            .await;
        wrong.assert_status(StatusCode::UNAUTHORIZED);
    }
    let seed_route = server
        .post("/api/orders/ORD-1")
        .add_header("Idempotency-Key", "key-1")
        .text(DAMAGED)
        .await;
    seed_route.assert_status(StatusCode::UNAUTHORIZED);

    assert!(refunds_of(&app, paid.id).await.is_empty());
    assert_eq!(key_rows(&app).await, 0);
    assert_eq!(order(&app, paid.id).await.refund_reserved_cents, 0);
    let queued = app.services().queue::<RefundJob>().counts().await.unwrap();
    assert_eq!(queued.pending, 0);
}

#[tokio::test]
async fn the_same_key_and_body_replays_the_first_response() {
    let app = boot().await;
    let paid = seed::paid_order(app.ctx(), "ORD-1", 10_000).await;
    let server = app.server();
    let first = post(&server, "ORD-1", Some("key-1"), DAMAGED).await;
    first.assert_status(StatusCode::ACCEPTED);
    assert!(first.maybe_header("Idempotent-Replayed").is_none());

    let again = post(&server, "ORD-1", Some("key-1"), DAMAGED).await;
    insta::assert_json_snapshot!("replayed", summary(&again));
    assert_eq!(again.text(), first.text(), "byte for byte");
    // The same request spelled differently is the same request.
    let as_decimal = post(
        &server,
        "ORD-1",
        Some("key-1"),
        r#"{"reason": "damaged", "amount": "25.00"}"#,
    )
    .await;
    as_decimal.assert_status(StatusCode::ACCEPTED);
    assert_eq!(as_decimal.text(), first.text());
    assert_eq!(as_decimal.header("Idempotent-Replayed"), "true");

    assert_eq!(refunds_of(&app, paid.id).await.len(), 1, "one refund");
    assert_eq!(order(&app, paid.id).await.refund_reserved_cents, 2_500);
    let queued = app.services().queue::<RefundJob>().counts().await.unwrap();
    assert_eq!(queued.pending, 1, "a replay queues nothing");
}

#[tokio::test]
async fn the_same_key_with_another_body_or_order_is_422() {
    let app = boot().await;
    let paid = seed::paid_order(app.ctx(), "ORD-1", 10_000).await;
    let other = seed::paid_order(app.ctx(), "ORD-2", 10_000).await;
    let server = app.server();
    post(&server, "ORD-1", Some("key-1"), DAMAGED)
        .await
        .assert_status(StatusCode::ACCEPTED);

    let more = post(&server, "ORD-1", Some("key-1"), r#"{"amount_cents": 3000}"#).await;
    insta::assert_json_snapshot!("key_reused_other_body", summary(&more));
    let elsewhere = post(&server, "ORD-2", Some("key-1"), DAMAGED).await;
    assert_eq!(summary(&elsewhere), summary(&more));

    assert_eq!(refunds_of(&app, paid.id).await.len(), 1);
    assert!(refunds_of(&app, other.id).await.is_empty());
    assert_eq!(order(&app, other.id).await.refund_reserved_cents, 0);
}

#[tokio::test]
async fn a_key_still_in_flight_is_409_until_its_lease_lapses() {
    let app = boot().await;
    let paid = seed::paid_order(app.ctx(), "ORD-1", 10_000).await;
    // Another request holds the key: claimed, not answered yet.
    let input = RefundInput::from_json(DAMAGED.as_bytes()).unwrap();
    let hash = input.request_hash(&format!("order:{}", paid.id));
    let held = claim(
        &app.ctx().db,
        "token-0",
        "key-1",
        &hash,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert!(matches!(held, Claim::New(_)));

    let response = post(&app.server(), "ORD-1", Some("key-1"), DAMAGED).await;
    insta::assert_json_snapshot!("in_flight", summary(&response));
    assert!(refunds_of(&app, paid.id).await.is_empty());

    // Its process died: after the lease, the key can be taken over.
    idempotency_keys::Entity::update_many()
        .col_expr(
            idempotency_keys::Column::UpdatedAt,
            Expr::value((chrono::Utc::now() - chrono::Duration::minutes(2)).naive_utc()),
        )
        .exec(&app.ctx().db)
        .await
        .unwrap();
    let retried = post(&app.server(), "ORD-1", Some("key-1"), DAMAGED).await;
    retried.assert_status(StatusCode::ACCEPTED);
    assert_eq!(refunds_of(&app, paid.id).await.len(), 1);
}

#[tokio::test]
async fn invalid_bodies_are_422_and_leave_the_key_unused() {
    let app = boot().await;
    let paid = seed::paid_order(app.ctx(), "ORD-1", 10_000).await;
    let server = app.server();
    let mut answers = Vec::new();
    for body in [
        r#"{"amount_cents": 0}"#,
        r#"{"amount_cents": -500}"#,
        r#"{"amount_cents": 12.5}"#,
        r#"{"amount": "12.345"}"#,
        r#"{"amount": "ten euros"}"#,
        r#"{"amount": 1e2}"#,
        r#"{"amount_cents": 500, "amount": "5.00"}"#,
        r#"{"reason": "no amount"}"#,
        r#"{"amount_cents": 500, "currency": "EUR"}"#,
        r#"{"amount_cents": 500"#,
        "",
    ] {
        let response = post(&server, "ORD-1", Some("key-1"), body).await;
        answers.push(json!({ "request": body, "response": summary(&response) }));
    }
    insta::assert_json_snapshot!("invalid_bodies", answers);
    assert!(answers
        .iter()
        .all(|a| a["response"]["status"] == 422 && a["response"]["replayed"].is_null()));
    assert!(refunds_of(&app, paid.id).await.is_empty());
    assert_eq!(
        key_rows(&app).await,
        0,
        "nothing was executed: nothing to replay"
    );

    let fixed = post(&server, "ORD-1", Some("key-1"), r#"{"amount": 12.5}"#).await;
    fixed.assert_status(StatusCode::ACCEPTED);
    assert_eq!(order(&app, paid.id).await.refund_reserved_cents, 1_250);
}

#[tokio::test]
async fn an_unknown_order_is_404_and_the_answer_is_kept() {
    let app = boot().await;
    let server = app.server();
    let missing = post(&server, "ORD-NOPE", Some("key-1"), DAMAGED).await;
    insta::assert_json_snapshot!("unknown_order", summary(&missing));
    let again = post(&server, "ORD-NOPE", Some("key-1"), DAMAGED).await;
    again.assert_status(StatusCode::NOT_FOUND);
    assert_eq!(again.header("Idempotent-Replayed"), "true");
    post(&server, "12345", Some("key-2"), DAMAGED)
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pending_and_failed_orders_are_409_and_the_first_answer_stays() {
    let app = TestApp::boot_with(|s| s["payment"]["success_rate"] = json!(0.0)).await;
    let db = &app.ctx().db;
    let item = seed::product(db, "SKU-1", 5_000, 10).await;
    let buyer = seed::customer(db, "CUST-1", None).await;
    let pending = seed::order(db, "ORD-PENDING", &buyer, &[(&item, 1)]).await;
    let failed = seed::order(db, "ORD-FAILED", &buyer, &[(&item, 1)]).await;
    orders_flow::workers::order_workflow::advance(&app.jobs(), failed.id)
        .await
        .unwrap();
    assert_eq!(order(&app, failed.id).await.status.as_str(), "failed");
    let server = app.server();

    let on_failed = post(&server, "ORD-FAILED", Some("key-1"), DAMAGED).await;
    insta::assert_json_snapshot!("failed_order", summary(&on_failed));
    let on_pending = post(&server, "ORD-PENDING", Some("key-2"), DAMAGED).await;
    insta::assert_json_snapshot!("pending_order", summary(&on_pending));

    // The order gets paid later: the key still answers what it answered first.
    orders::Entity::update_many()
        .col_expr(orders::Column::Status, Expr::value("paid"))
        .filter(orders::Column::Id.eq(pending.id))
        .exec(db)
        .await
        .unwrap();
    let replay = post(&server, "ORD-PENDING", Some("key-2"), DAMAGED).await;
    assert_eq!(replay.status_code(), StatusCode::CONFLICT);
    assert_eq!(replay.text(), on_pending.text());
    assert_eq!(replay.header("Idempotent-Replayed"), "true");
    post(&server, "ORD-PENDING", Some("key-3"), DAMAGED)
        .await
        .assert_status(StatusCode::ACCEPTED);

    assert!(refunds_of(&app, failed.id).await.is_empty());
    assert_eq!(order(&app, failed.id).await.refund_reserved_cents, 0);
}

#[tokio::test]
async fn more_than_the_remainder_is_422_with_the_remainder() {
    let app = boot().await;
    let paid = seed::paid_order(app.ctx(), "ORD-1", 10_000).await;
    let server = app.server();
    post(&server, "ORD-1", Some("key-1"), r#"{"amount_cents": 7000}"#)
        .await
        .assert_status(StatusCode::ACCEPTED);
    let over = post(&server, "ORD-1", Some("key-2"), r#"{"amount": "30.01"}"#).await;
    insta::assert_json_snapshot!("exceeds_remainder", summary(&over));
    let rest = post(&server, "ORD-1", Some("key-3"), r#"{"amount": "30.00"}"#).await;
    rest.assert_status(StatusCode::ACCEPTED);
    let after = order(&app, paid.id).await;
    assert_eq!(after.refund_reserved_cents, after.total_cents);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_amount_near_the_integer_limit_is_422_not_an_overflow() {
    // A window wide enough for the pairs below to share a batch: one of each
    // pair is refused in the batch, the other on the single path.
    let app = crate::support::refunds::boot_with(|s| {
        s["refunds"]["batch_window_ms"] = json!(200);
    })
    .await;
    let paid = seed::paid_order(app.ctx(), "ORD-1", 10_000).await;
    let fresh = seed::paid_order(app.ctx(), "ORD-2", 10_000).await;
    let server = app.server();
    post(&server, "ORD-1", Some("key-1"), r#"{"amount_cents": 7000}"#)
        .await
        .assert_status(StatusCode::ACCEPTED);
    // reserved + amount would pass i64::MAX: PostgreSQL refused the sum (500).
    let bodies = [
        format!(r#"{{"amount_cents": {}}}"#, i64::MAX - 10),
        format!(r#"{{"amount_cents": {}}}"#, i64::MAX),
        r#"{"amount": "92233720368547758.07"}"#.to_string(),
    ];
    let mut n = 0;
    for (order_ref, remaining) in [("ORD-1", 3000), ("ORD-2", 10_000)] {
        for body in &bodies {
            n += 1;
            let (k1, k2) = (format!("huge-{n}-a"), format!("huge-{n}-b"));
            let answers = crate::support::refunds::all_at_once(vec![
                post(&server, order_ref, Some(&k1), body),
                post(&server, order_ref, Some(&k2), body),
            ])
            .await;
            for (status, _, answer) in answers {
                assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
                assert_eq!(answer["error"], "amount_exceeds_refundable");
                assert_eq!(answer["remaining_cents"], remaining);
            }
        }
    }
    let stats = app.services().refund_batcher.stats();
    assert!(stats.single >= 6, "the single path was taken: {stats:?}");
    assert_eq!(order(&app, paid.id).await.refund_reserved_cents, 7000);
    assert_eq!(order(&app, fresh.id).await.refund_reserved_cents, 0);
    let over = format!(r#"{{"amount_cents": {}}}"#, u64::MAX);
    let too_large = post(&server, "ORD-2", Some("key-over"), &over).await;
    too_large.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        too_large.json::<serde_json::Value>()["error"],
        "invalid_amount"
    );
}

/// The seed route, `POST /api/orders/{id}`, with a JSON body and the token.
fn seed_post(server: &axum_test::TestServer, order: &str, key: &str) -> axum_test::TestRequest {
    server
        .post(&format!("/api/orders/{order}"))
        .add_header("Authorization", format!("Bearer {TOKEN}"))
        .add_header("Idempotency-Key", key.to_string())
        .text(DAMAGED)
        .content_type("application/json")
}

#[tokio::test]
async fn the_seed_route_and_the_refunds_route_are_one_request() {
    let app = boot().await;
    let paid = seed::paid_order(app.ctx(), "ORD-1", 10_000).await;
    let server = app.server();
    let first = post(&server, "ORD-1", Some("key-1"), DAMAGED).await;
    first.assert_status(StatusCode::ACCEPTED);
    seed_post(&server, "ORD-1", "key-2")
        .await
        .assert_status(StatusCode::ACCEPTED);
    // Key 1 again on the other route: the same request, the first answer.
    let replay = seed_post(&server, "ORD-1", "key-1").await;
    assert_eq!(replay.text(), first.text());
    assert_eq!(replay.header("Idempotent-Replayed"), "true");
    assert_eq!(refunds_of(&app, paid.id).await.len(), 2);
}

#[tokio::test]
async fn keys_are_scoped_to_the_token() {
    let app = boot().await;
    let paid = seed::paid_order(app.ctx(), "ORD-1", 10_000).await;
    let server = app.server();
    post(&server, "ORD-1", Some("shared-key"), DAMAGED)
        .await
        .assert_status(StatusCode::ACCEPTED);
    let other_client = server
        .post("/api/orders/ORD-1/refunds")
        .add_header("Authorization", "Bearer second-token")
        .add_header("Idempotency-Key", "shared-key")
        .text(DAMAGED)
        .content_type("application/json")
        .await;
    other_client.assert_status(StatusCode::ACCEPTED);
    assert!(other_client.maybe_header("Idempotent-Replayed").is_none());
    assert_eq!(refunds_of(&app, paid.id).await.len(), 2);
}

#[tokio::test]
async fn an_expired_key_is_forgotten_but_never_makes_a_second_refund() {
    let app = boot().await;
    let paid = seed::paid_order(app.ctx(), "ORD-1", 10_000).await;
    let server = app.server();
    post(&server, "ORD-LATER", Some("key-404"), DAMAGED)
        .await
        .assert_status(StatusCode::NOT_FOUND);
    post(&server, "ORD-1", Some("key-202"), DAMAGED)
        .await
        .assert_status(StatusCode::ACCEPTED);
    let expiry = app.services().settings.refunds.key_ttl_secs;
    assert_eq!(expiry, 24 * 3600, "keys are kept 24 h");
    idempotency_keys::Entity::update_many()
        .col_expr(
            idempotency_keys::Column::ExpiresAt,
            Expr::value((chrono::Utc::now() - chrono::Duration::seconds(1)).fixed_offset()),
        )
        .exec(&app.ctx().db)
        .await
        .unwrap();

    // Forgotten: the key starts a new request.
    post(
        &server,
        "ORD-1",
        Some("key-404"),
        r#"{"amount_cents": 100}"#,
    )
    .await
    .assert_status(StatusCode::ACCEPTED);
    // But a key that made a refund never makes another one.
    let reused = post(&server, "ORD-1", Some("key-202"), DAMAGED).await;
    insta::assert_json_snapshot!("expired_key_of_a_refund", summary(&reused));
    assert_eq!(refunds_of(&app, paid.id).await.len(), 2);
    assert_eq!(order(&app, paid.id).await.refund_reserved_cents, 2_600);
}
