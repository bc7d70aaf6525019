//! Customers and orders written straight to the database, for tests that start
//! after the import (notifications, and anything that needs an order to exist).
use orders_flow::models::{
    customers, orders,
    statuses::{FailureReason, OrderStatus},
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};

use super::TestApp;

/// A customer `external_id`, with or without an email address.
pub async fn customer(app: &TestApp, external_id: &str, email: Option<&str>) -> customers::Model {
    let now = chrono::Utc::now().naive_utc();
    customers::ActiveModel {
        external_id: Set(external_id.to_string()),
        email: Set(email.map(str::to_string)),
        name: Set(Some(format!("Customer {external_id}"))),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.ctx().db)
    .await
    .expect("insert customer")
}

/// An order of `customer` in state `status`, `failure_reason` set when given.
pub async fn order(
    app: &TestApp,
    external_id: &str,
    customer: &customers::Model,
    status: OrderStatus,
    total_cents: i64,
    failure_reason: Option<FailureReason>,
) -> orders::Model {
    let now = chrono::Utc::now();
    orders::ActiveModel {
        external_id: Set(external_id.to_string()),
        customer_id: Set(customer.id),
        status: Set(status),
        currency: Set("EUR".to_string()),
        total_cents: Set(total_cents),
        refund_reserved_cents: Set(0),
        refunded_cents: Set(0),
        placed_at: Set(Some(now.fixed_offset())),
        failure_reason: Set(failure_reason),
        created_at: Set(now.naive_utc()),
        updated_at: Set(now.naive_utc()),
        ..Default::default()
    }
    .insert(&app.ctx().db)
    .await
    .expect("insert order")
}
