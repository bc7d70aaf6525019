//! Concurrent requests against the real router: one refund per key, and never
//! more refunded than the order's total, whatever arrives at once.
use axum::http::StatusCode;
use axum_test::TestServer;
use orders_flow::workers::refund;
use serde_json::Value;

use crate::support::{
    refunds::{all_at_once, boot, order, post, refunds_of},
    seed,
};

/// Every `(key, body)` as a refund request for `ORD-HOT`, all sent at once.
async fn all_at_once_on_hot_order(
    server: &TestServer,
    requests: impl Iterator<Item = (String, String)>,
) -> Vec<(StatusCode, bool, Value)> {
    all_at_once(
        requests
            .map(|(key, body)| post(server, "ORD-HOT", Some(&key), &body))
            .collect(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_requests_with_one_key_make_one_refund() {
    let app = boot().await;
    let paid = seed::paid_order(app.ctx(), "ORD-HOT", 10_000).await;
    let server = app.server();
    let body = r#"{"amount_cents": 4000}"#.to_string();
    let answers = all_at_once_on_hot_order(
        &server,
        (0..50).map(|_| ("same-key".to_string(), body.clone())),
    )
    .await;

    let first: Vec<_> = answers
        .iter()
        .filter(|(status, replayed, _)| *status == StatusCode::ACCEPTED && !replayed)
        .collect();
    assert_eq!(first.len(), 1, "exactly one first answer: {answers:?}");
    for (status, replayed, body) in &answers {
        match *status {
            StatusCode::ACCEPTED => assert_eq!(body, &first[0].2, "a replay is the first answer"),
            StatusCode::CONFLICT => {
                assert!(!replayed);
                assert_eq!(body["error"], "idempotency_request_in_flight");
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let refunds = refunds_of(&app, paid.id).await;
    assert_eq!(refunds.len(), 1, "never two refunds for one key");
    assert_eq!(order(&app, paid.id).await.refund_reserved_cents, 4_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_keys_for_ten_percent_each_refund_exactly_the_total() {
    let app = boot().await;
    let paid = seed::paid_order(app.ctx(), "ORD-HOT", 10_000).await;
    let server = app.server();
    let body = r#"{"amount": "10.00"}"#.to_string();
    let answers =
        all_at_once_on_hot_order(&server, (0..50).map(|n| (format!("key-{n}"), body.clone())))
            .await;

    let accepted = answers
        .iter()
        .filter(|(status, _, _)| *status == StatusCode::ACCEPTED)
        .count();
    assert_eq!(accepted, 10, "{answers:?}");
    for (status, _, body) in &answers {
        if *status != StatusCode::ACCEPTED {
            assert_eq!(*status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(body["error"], "amount_exceeds_refundable");
            assert_eq!(body["remaining_cents"], 0);
        }
    }
    let refunds = refunds_of(&app, paid.id).await;
    assert_eq!(refunds.len(), 10);
    assert_eq!(refunds.iter().map(|r| r.amount_cents).sum::<i64>(), 10_000);
    assert_eq!(order(&app, paid.id).await.refund_reserved_cents, 10_000);

    for refund in &refunds {
        refund::process(&app.jobs(), refund.id).await.unwrap();
    }
    let refunded = order(&app, paid.id).await;
    assert_eq!(
        (refunded.status.as_str(), refunded.refunded_cents),
        ("refunded", 10_000),
        "sum refunded = total"
    );
}
