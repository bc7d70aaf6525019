//! `cargo loco task orders_refund …`: the same rules as the API, from the shell.
use std::process::{Command, Output};

use axum::http::StatusCode;

use crate::support::{
    refunds::{boot, order, post, refunds_of},
    seed, TestApp,
};

fn refund_task(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orders-flow-cli"))
        .args(["task", "orders_refund"])
        .args(args)
        .env("LOCO_ENV", "test")
        .env("REDIS_PREFIX", &app.prefix)
        .env("DATABASE_URL", &app.database_url)
        .env("PAYMENT_SUCCESS_RATE", "1.0")
        .output()
        .expect("run task")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[tokio::test]
async fn the_cli_queues_a_refund_and_a_repeated_key_changes_nothing() {
    let app = boot().await;
    let paid = seed::paid_order(app.ctx(), "ORD-1", 10_000).await;
    let args = [
        "order=ORD-1",
        "amount_cents=2500",
        "reason=late delivery",
        "key=cli-1",
    ];

    let first = refund_task(&app, &args);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stdout(&first).contains("of order ORD-1: 25.00 (2500 cents), status pending, key cli-1"),
        "{}",
        stdout(&first)
    );
    let again = refund_task(&app, &args);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("key cli-1 was already used: nothing changed."),
        "{}",
        stdout(&again)
    );

    let refunds = refunds_of(&app, paid.id).await;
    assert_eq!(refunds.len(), 1);
    assert_eq!(
        (
            refunds[0].idempotency_scope.as_str(),
            refunds[0].reason.as_deref()
        ),
        ("cli", Some("late delivery"))
    );
    assert_eq!(order(&app, paid.id).await.refund_reserved_cents, 2_500);
    let queued = app
        .services()
        .queue::<orders_flow::queue::RefundJob>()
        .counts()
        .await
        .unwrap();
    assert_eq!(queued.pending, 1);
}

#[tokio::test]
async fn the_cli_and_the_api_share_the_rules() {
    let app = boot().await;
    let paid = seed::paid_order(app.ctx(), "ORD-1", 10_000).await;
    post(
        &app.server(),
        "ORD-1",
        Some("api-1"),
        r#"{"amount_cents": 6000}"#,
    )
    .await
    .assert_status(StatusCode::ACCEPTED);

    let over = refund_task(&app, &["order=ORD-1", "amount_cents=5000"]);
    assert!(!over.status.success());
    assert!(
        stderr(&over).contains("amount_exceeds_refundable"),
        "{}",
        stderr(&over)
    );
    assert!(stderr(&over).contains("40.00"), "{}", stderr(&over));

    for (args, reason) in [
        (["order=ORD-1", "amount_cents=0"], "at least 0.01"),
        (["order=ORD-1", "amount_cents=-5"], "must be positive"),
        (
            ["order=ORD-1", "amount_cents=12.5"],
            "whole number of cents",
        ),
        (["order=ORD-NOPE", "amount_cents=100"], "order_not_found"),
    ] {
        let out = refund_task(&app, &args);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains(reason), "{args:?}: {}", stderr(&out));
    }
    let bad_key = refund_task(&app, &["order=ORD-1", "amount_cents=100", "key=has space"]);
    assert!(!bad_key.status.success());

    let rest = refund_task(&app, &["order=ORD-1", "amount_cents=4000"]);
    assert!(rest.status.success(), "{}", stderr(&rest));
    let after = order(&app, paid.id).await;
    assert_eq!(after.refund_reserved_cents, after.total_cents);
}

#[tokio::test]
async fn the_cli_refuses_an_order_that_was_never_paid() {
    let app = TestApp::boot_with(|s| s["payment"]["success_rate"] = serde_json::json!(0.0)).await;
    let db = &app.ctx().db;
    let item = seed::product(db, "SKU-1", 5_000, 10).await;
    let buyer = seed::customer(db, "CUST-1", None).await;
    let failed = seed::order(db, "ORD-FAILED", &buyer, &[(&item, 1)]).await;
    orders_flow::workers::order_workflow::advance(&app.jobs(), failed.id)
        .await
        .unwrap();
    seed::order(db, "ORD-PENDING", &buyer, &[(&item, 1)]).await;
    for order_ref in ["ORD-FAILED", "ORD-PENDING"] {
        let out = refund_task(&app, &[&format!("order={order_ref}"), "amount_cents=100"]);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("order_not_refundable"),
            "{}",
            stderr(&out)
        );
    }
    assert!(refunds_of(&app, failed.id).await.is_empty());
}

#[tokio::test]
async fn the_cli_takes_plain_digits_and_the_external_id_only() {
    let app = boot().await;
    let named = seed::paid_order(app.ctx(), "TMP-1", 10_000).await;
    let other = seed::paid_order(app.ctx(), "TMP-2", 10_000).await;
    // `named` is called by `other`'s row id; `named`'s own row id is nobody's name.
    let name = other.id.to_string();
    let mut active: orders_flow::models::_entities::orders::ActiveModel = named.clone().into();
    active.external_id = sea_orm::ActiveValue::Set(name.clone());
    sea_orm::ActiveModelTrait::update(active, &app.ctx().db)
        .await
        .unwrap();

    for (amount, reason) in [
        ("+100", "without a sign"),
        ("0100", "without leading zeros"),
        (" 100", "spaces around it"),
        ("100 ", "spaces around it"),
        ("1e2", "without an exponent"),
        ("1.00", "whole number of cents"),
    ] {
        let arg = format!("amount_cents={amount}");
        let out = refund_task(&app, &[&format!("order={name}"), &arg]);
        assert!(!out.status.success(), "{amount:?} was taken");
        let first = stderr(&out).lines().next().unwrap_or_default().to_string();
        assert!(first.contains(reason), "{amount:?}: {}", stderr(&out));
    }
    let by_row_id = refund_task(&app, &[&format!("order={}", named.id), "amount_cents=100"]);
    assert!(!by_row_id.status.success(), "{}", stdout(&by_row_id));
    assert!(
        stderr(&by_row_id).contains("order_not_found"),
        "{}",
        stderr(&by_row_id)
    );
    assert_eq!(order(&app, named.id).await.refund_reserved_cents, 0);
    assert_eq!(order(&app, other.id).await.refund_reserved_cents, 0);

    let by_name = refund_task(&app, &[&format!("order={name}"), "amount_cents=100"]);
    assert!(by_name.status.success(), "{}", stderr(&by_name));
    assert!(
        stdout(&by_name).contains(&format!("of order {name}: 1.00")),
        "{}",
        stdout(&by_name)
    );
    assert_eq!(order(&app, named.id).await.refund_reserved_cents, 100);
    assert_eq!(order(&app, other.id).await.refund_reserved_cents, 0);
}
