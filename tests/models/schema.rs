//! The migrations run on both databases, and the constraints make duplicates impossible.
use loco_rs::prelude::ConnectionTrait;

use crate::support::TestApp;

const TABLES: &[&str] = &[
    "customers",
    "products",
    "imports",
    "import_chunks",
    "orders",
    "order_items",
    "payments",
    "order_notifications",
    "refunds",
    "idempotency_keys",
    "kpi_events",
];

async fn exec(app: &TestApp, sql: &str) -> Result<(), sea_orm::DbErr> {
    app.ctx().db.execute_unprepared(sql).await.map(|_| ())
}

async fn seed_order(app: &TestApp) {
    exec(app, "INSERT INTO customers (external_id, created_at, updated_at) VALUES ('C1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)").await.unwrap();
    exec(app, "INSERT INTO orders (external_id, customer_id, currency, total_cents, created_at, updated_at) VALUES ('O1', 1, 'EUR', 1000, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)").await.unwrap();
}

#[tokio::test]
async fn migrations_create_every_table() {
    let app = TestApp::boot().await;
    for table in TABLES {
        exec(&app, &format!("SELECT COUNT(*) FROM {table}"))
            .await
            .unwrap_or_else(|e| panic!("table {table} missing: {e}"));
    }
}

#[tokio::test]
async fn stock_cannot_go_negative() {
    let app = TestApp::boot().await;
    exec(&app, "INSERT INTO products (sku, name, price_cents, stock, created_at, updated_at) VALUES ('S1', 'n', 100, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)").await.unwrap();
    exec(
        &app,
        "UPDATE products SET stock = stock - 1 WHERE sku = 'S1'",
    )
    .await
    .unwrap();
    let err = exec(
        &app,
        "UPDATE products SET stock = stock - 1 WHERE sku = 'S1'",
    )
    .await;
    assert!(err.is_err(), "stock went below zero");
}

#[tokio::test]
async fn duplicates_are_rejected_by_the_database() {
    let app = TestApp::boot().await;
    seed_order(&app).await;
    let dup_order = "INSERT INTO orders (external_id, customer_id, currency, total_cents, created_at, updated_at) VALUES ('O1', 1, 'EUR', 5, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)";
    assert!(
        exec(&app, dup_order).await.is_err(),
        "second order with the same external id"
    );

    let payment = "INSERT INTO payments (order_id, amount_cents, currency, provider, provider_ref, status, created_at, updated_at) VALUES (1, 1000, 'EUR', 'fake', 'r', 'captured', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)";
    exec(&app, payment).await.unwrap();
    assert!(
        exec(&app, payment).await.is_err(),
        "second payment for one order"
    );

    let note = "INSERT INTO order_notifications (order_id, event, channel, payload, created_at, updated_at) VALUES (1, 'paid', 'log', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)";
    exec(&app, note).await.unwrap();
    assert!(
        exec(&app, note).await.is_err(),
        "second notification for one event"
    );

    let refund = "INSERT INTO refunds (order_id, idempotency_scope, idempotency_key, amount_cents, created_at, updated_at) VALUES (1, 'token-0', 'k1', 100, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)";
    exec(&app, refund).await.unwrap();
    assert!(
        exec(&app, refund).await.is_err(),
        "second refund with the same key"
    );
}

#[tokio::test]
async fn states_and_amounts_are_checked() {
    let app = TestApp::boot().await;
    seed_order(&app).await;
    assert!(
        exec(&app, "UPDATE orders SET status = 'shipped' WHERE id = 1")
            .await
            .is_err()
    );
    // Refunds can never exceed the order total, even reserved.
    assert!(exec(
        &app,
        "UPDATE orders SET refund_reserved_cents = 1001 WHERE id = 1"
    )
    .await
    .is_err());
    exec(
        &app,
        "UPDATE orders SET refund_reserved_cents = 1000 WHERE id = 1",
    )
    .await
    .unwrap();
    assert!(
        exec(&app, "UPDATE orders SET refunded_cents = 1001 WHERE id = 1")
            .await
            .is_err()
    );
    let zero_refund = "INSERT INTO refunds (order_id, idempotency_scope, idempotency_key, amount_cents, created_at, updated_at) VALUES (1, 'cli', 'k0', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)";
    assert!(exec(&app, zero_refund).await.is_err());
}
