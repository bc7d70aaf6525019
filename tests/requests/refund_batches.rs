//! Refund requests accepted in batches (group commit): many requests in one
//! transaction, each with exactly the effect it would have alone.
use std::collections::{HashMap, HashSet};

use axum::http::StatusCode;
use axum_test::TestServer;
use orders_flow::{models::_entities::refunds, queue::RefundJob};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait};
use serde_json::{json, Value};

use crate::support::{
    refunds::{all_at_once, boot_with, key_rows, order, post, refunds_of},
    seed, TestApp,
};

/// A window wide enough for every request sent at once to join one batch.
async fn boot_batching() -> TestApp {
    boot_with(|s| s["refunds"]["batch_window_ms"] = json!(200)).await
}

/// One request: (order, key, body).
type Call = (String, String, String);

/// Sends every call at once and returns (status, replayed, body) for each.
async fn send_all(server: &TestServer, calls: &[Call]) -> Vec<(StatusCode, bool, Value)> {
    all_at_once(
        calls
            .iter()
            .map(|(order, key, body)| post(server, order, Some(key), body))
            .collect(),
    )
    .await
}

fn call(order: &str, key: &str, cents: i64) -> Call {
    (
        order.to_string(),
        key.to_string(),
        json!({ "amount_cents": cents }).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_are_accepted_together_and_each_takes_effect_once() {
    let app = boot_batching().await;
    let mut paid = Vec::new();
    for n in 0..20 {
        paid.push(seed::paid_order(app.ctx(), &format!("ORD-B-{n}"), 10_000).await);
    }
    let mut calls = Vec::new();
    // One request for each of 20 orders…
    calls.extend((0..20).map(|n| call(&format!("ORD-B-{n}"), &format!("k-{n}"), 1_000)));
    // …a second one, with its own key, for 5 of them…
    calls.extend((0..5).map(|n| call(&format!("ORD-B-{n}"), &format!("k-extra-{n}"), 2_000)));
    // …the same request again under the same key for 5 others…
    calls.extend((5..10).map(|n| call(&format!("ORD-B-{n}"), &format!("k-{n}"), 1_000)));
    // …and a key used again with another amount.
    calls.push(call("ORD-B-10", "k-10", 3_000));
    let answers = send_all(&app.server(), &calls).await;

    // Every key's first answer is a 202; a repeat is its replay or "in flight";
    // the other amount under k-10 is refused (or in flight), whichever came first.
    let twice: HashSet<String> = (5..=10).map(|n| format!("k-{n}")).collect();
    let mut first: HashMap<&str, &Value> = HashMap::new();
    for ((_, key, _), (status, replayed, body)) in calls.iter().zip(&answers) {
        if *status == StatusCode::ACCEPTED && !replayed {
            assert!(
                first.insert(key, body).is_none(),
                "two first answers for {key}"
            );
        }
    }
    assert_eq!(first.len(), 25, "{answers:?}");
    for ((_, key, _), (status, replayed, body)) in calls.iter().zip(&answers) {
        match *status {
            StatusCode::ACCEPTED if *replayed => assert_eq!(&first[key.as_str()], &body),
            StatusCode::ACCEPTED => {}
            StatusCode::CONFLICT if twice.contains(key) => {
                assert_eq!(body["error"], "idempotency_request_in_flight");
            }
            StatusCode::UNPROCESSABLE_ENTITY if key == "k-10" => {
                assert_eq!(body["error"], "idempotency_key_reused");
            }
            other => panic!("{key}: unexpected {other}: {body}"),
        }
    }

    // Exactly once: one refund per accepted key, reserved once, one job each.
    let mut refund_ids = HashSet::new();
    for (n, paid) in paid.iter().enumerate() {
        let rows = refunds_of(&app, paid.id).await;
        let expected = match n {
            0..=4 => vec![1_000, 2_000],
            10 => vec![first["k-10"]["amount_cents"].as_i64().unwrap_or(0)],
            _ => vec![1_000],
        };
        let mut amounts: Vec<i64> = rows.iter().map(|r| r.amount_cents).collect();
        amounts.sort_unstable();
        assert_eq!(amounts, expected, "order {n}");
        assert_eq!(
            order(&app, paid.id).await.refund_reserved_cents,
            expected.iter().sum::<i64>(),
            "order {n}"
        );
        refund_ids.extend(rows.iter().map(|r| r.id));
    }
    for body in first.values() {
        assert!(refund_ids.contains(&body["refund_id"].as_i64().unwrap_or(0)));
    }
    assert_eq!(key_rows(&app).await, 25);
    let queued = app.services().queue::<RefundJob>().counts().await.unwrap();
    assert_eq!(queued.pending, 25, "one job per refund");

    // And they really went through batches: more than one request per
    // transaction (the refunds of one batch share its timestamp).
    let stats = app.services().refund_batcher.stats();
    assert!(stats.largest > 1, "{stats:?}");
    assert!(stats.answered + stats.single >= 31, "{stats:?}");
    let all = refunds::Entity::find().all(&app.ctx().db).await.unwrap();
    let stamps: HashSet<_> = all.iter().map(|r| r.created_at).collect();
    assert!(
        stamps.len() < all.len(),
        "{} refunds, {} commits",
        all.len(),
        stamps.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_whose_refund_outlived_it_is_refused_and_the_rest_of_its_batch_goes_through() {
    let app = boot_batching().await;
    let first = seed::paid_order(app.ctx(), "ORD-1", 10_000).await;
    let mut others = Vec::new();
    for n in 2..=5 {
        others.push(seed::paid_order(app.ctx(), &format!("ORD-{n}"), 10_000).await);
    }
    let server = app.server();
    let made = post(
        &server,
        "ORD-1",
        Some("old-key"),
        r#"{"amount_cents": 500}"#,
    )
    .await;
    made.assert_status(StatusCode::ACCEPTED);
    // The key expired and the sweep deleted it; its refund stays.
    orders_flow::models::idempotency_keys::Entity::delete_many()
        .exec(&app.ctx().db)
        .await
        .unwrap();

    let mut calls = vec![call("ORD-2", "old-key", 700)];
    calls.extend((3..=5).map(|n| call(&format!("ORD-{n}"), &format!("new-{n}"), 700)));
    let answers = send_all(&server, &calls).await;

    let (status, _, body) = &answers[0];
    assert_eq!(*status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "idempotency_key_reused");
    assert_eq!(body["refund_id"], made.json::<Value>()["refund_id"]);
    assert!(refunds_of(&app, others[0].id).await.is_empty());
    assert_eq!(order(&app, others[0].id).await.refund_reserved_cents, 0);
    for (answer, paid) in answers[1..].iter().zip(&others[1..]) {
        assert_eq!(answer.0, StatusCode::ACCEPTED, "{answer:?}");
        assert_eq!(refunds_of(&app, paid.id).await.len(), 1);
        assert_eq!(order(&app, paid.id).await.refund_reserved_cents, 700);
    }
    assert_eq!(refunds_of(&app, first.id).await.len(), 1);
    assert_eq!(order(&app, first.id).await.refund_reserved_cents, 500);
    let stats = app.services().refund_batcher.stats();
    assert!(
        stats.largest >= 2,
        "the others still went as a batch: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_statement_sends_the_batch_to_the_single_path_and_nothing_is_lost_or_doubled() {
    let app = boot_batching().await;
    let mut paid = Vec::new();
    for n in 1..=6 {
        paid.push(seed::paid_order(app.ctx(), &format!("ORD-{n}"), 10_000).await);
    }
    let server = app.server();
    post(&server, "ORD-1", Some("small"), r#"{"amount_cents": 100}"#)
        .await
        .assert_status(StatusCode::ACCEPTED);
    refuse_refunds_of(&app, 901).await;
    let before = app.services().refund_batcher.stats();
    // The database refuses a refund of 901 cents, so the batch's refund insert
    // fails and takes the whole transaction with it.
    let mut calls = vec![call("ORD-1", "refused", 901)];
    calls.extend((2..=6).map(|n| call(&format!("ORD-{n}"), &format!("k-{n}"), 900)));
    let answers = send_all(&server, &calls).await;

    assert_ne!(answers[0].0, StatusCode::ACCEPTED, "{:?}", answers[0]);
    assert_eq!(refunds_of(&app, paid[0].id).await.len(), 1);
    assert_eq!(order(&app, paid[0].id).await.refund_reserved_cents, 100);
    for (answer, paid) in answers[1..].iter().zip(&paid[1..]) {
        assert_eq!(answer.0, StatusCode::ACCEPTED, "{answer:?}");
        assert!(!answer.1, "a first answer, not a replay");
        let rows = refunds_of(&app, paid.id).await;
        assert_eq!(rows.len(), 1);
        assert_eq!(answer.2["refund_id"], rows[0].id);
        assert_eq!(order(&app, paid.id).await.refund_reserved_cents, 900);
    }
    let queued = app.services().queue::<RefundJob>().counts().await.unwrap();
    assert_eq!(queued.pending, 6, "one job per refund, none twice");
    let after = app.services().refund_batcher.stats();
    assert_eq!(
        after.answered, before.answered,
        "the batch committed nothing"
    );
    assert_eq!(after.single - before.single, 6, "{after:?}");
}

/// A trigger that makes the database refuse refund rows of `cents`: a statement
/// failure inside a batch, on both databases, without touching the product.
async fn refuse_refunds_of(app: &TestApp, cents: i64) {
    let statements = match app.ctx().db.get_database_backend() {
        DbBackend::Postgres => vec![
            format!(
                "CREATE FUNCTION refuse_refund() RETURNS trigger AS $$ BEGIN \
                 IF NEW.amount_cents = {cents} THEN RAISE EXCEPTION 'refused by the test'; END IF; \
                 RETURN NEW; END $$ LANGUAGE plpgsql"
            ),
            "CREATE TRIGGER refuse_refund BEFORE INSERT ON refunds \
             FOR EACH ROW EXECUTE FUNCTION refuse_refund()"
                .to_string(),
        ],
        _ => vec![format!(
            "CREATE TRIGGER refuse_refund BEFORE INSERT ON refunds \
             WHEN NEW.amount_cents = {cents} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        )],
    };
    for sql in statements {
        app.ctx().db.execute_unprepared(&sql).await.unwrap();
    }
}
