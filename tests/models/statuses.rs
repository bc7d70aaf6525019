//! Every variant of the status enums is stored as its word, accepted by its
//! table's CHECK constraint and read back as the same variant, on both databases.
use orders_flow::models::{
    _entities::{imports, order_notifications, orders, refunds},
    statuses::{FailureReason, ImportState, NotificationStatus, OrderStatus, RefundStatus},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, Iterable, Statement,
};

use crate::support::{shop, TestApp};

/// The column's text as the database holds it.
async fn stored(app: &TestApp, table: &str, column: &str, id: i64) -> Option<String> {
    let db = &app.ctx().db;
    let sql = format!("SELECT {column} FROM {table} WHERE id = {id}");
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .expect("row")
        .try_get_by_index(0)
        .unwrap()
}

/// Row `id` of `table` holds `word` in `column`.
async fn assert_stored(app: &TestApp, table: &str, column: &str, id: i64, word: &str) {
    assert_eq!(
        stored(app, table, column, id).await.as_deref(),
        Some(word),
        "{table}.{column} of row {id}"
    );
}

#[tokio::test]
async fn order_statuses_and_failure_reasons_are_stored_as_their_words() {
    let app = TestApp::boot().await;
    let customer = shop::customer(&app, "C-1", None).await;
    let reasons = FailureReason::iter().map(Some).chain([None]);
    for (n, (status, reason)) in OrderStatus::iter().zip(reasons.cycle()).enumerate() {
        let order = shop::order(&app, &format!("O-{n}"), &customer, status, 100, reason).await;
        assert_stored(&app, "orders", "status", order.id, status.as_str()).await;
        assert_eq!(
            stored(&app, "orders", "failure_reason", order.id).await,
            reason.map(|r| r.as_str().to_string())
        );
        let read = orders::Entity::find_by_id(order.id)
            .one(&app.ctx().db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((read.status, read.failure_reason), (status, reason));
    }
}

#[tokio::test]
async fn refund_and_notification_statuses_are_stored_as_their_words() {
    let app = TestApp::boot().await;
    let db = &app.ctx().db;
    let customer = shop::customer(&app, "C-1", None).await;
    let order = shop::order(&app, "O-1", &customer, OrderStatus::Paid, 100, None).await;
    let now = chrono::Utc::now().naive_utc();
    for status in RefundStatus::iter() {
        let refund = refunds::ActiveModel {
            order_id: Set(order.id),
            idempotency_scope: Set("test".to_string()),
            idempotency_key: Set(status.to_string()),
            amount_cents: Set(1),
            status: Set(status),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
        assert_stored(&app, "refunds", "status", refund.id, status.as_str()).await;
        let read = refunds::Entity::find_by_id(refund.id)
            .one(db)
            .await
            .unwrap();
        assert_eq!(read.map(|r| r.status), Some(status));
    }
    for status in NotificationStatus::iter() {
        let row = order_notifications::ActiveModel {
            order_id: Set(order.id),
            event: Set(status.to_string()),
            channel: Set("log".to_string()),
            status: Set(status),
            payload: Set("{}".to_string()),
            attempts: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
        assert_stored(
            &app,
            "order_notifications",
            "status",
            row.id,
            status.as_str(),
        )
        .await;
        let read = order_notifications::Entity::find_by_id(row.id)
            .one(db)
            .await
            .unwrap();
        assert_eq!(read.map(|r| r.status), Some(status));
    }
}

#[tokio::test]
async fn import_states_are_stored_as_their_words() {
    let app = TestApp::boot().await;
    let db = &app.ctx().db;
    let now = chrono::Utc::now().naive_utc();
    for state in ImportState::iter() {
        let import = imports::ActiveModel {
            file_name: Set(format!("{state}.csv")),
            state: Set(state),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
        assert_stored(&app, "imports", "state", import.id, state.as_str()).await;
        let read = imports::Entity::find_by_id(import.id)
            .one(db)
            .await
            .unwrap();
        assert_eq!(read.map(|i| i.state), Some(state));
    }
}
