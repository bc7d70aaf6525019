//! A few hundred orders over three days, through the real workflow, with
//! declines and shortages, for the KPI tests.
use orders_flow::models::{_entities::orders, workflow};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};

use super::{seed, TestApp};

pub const DAYS: [&str; 3] = ["2025-10-25", "2025-10-26", "2025-10-27"];
/// Units across all products seeded by [`run_orders`].
pub const INITIAL_STOCK: i64 = 2 * 15 + 4 * 1_000;

/// Seeds and runs `n` orders; returns them in their final state.
pub async fn run_orders(app: &TestApp, n: usize) -> Vec<orders::Model> {
    let db = &app.ctx().db;
    let mut products = Vec::new();
    for p in 0..6 {
        // Small stock on some products makes shortages.
        let stock = if p < 2 { 15 } else { 1_000 };
        products.push(seed::product(db, &format!("SKU-K{p}"), 999 + p * 1_001, stock).await);
    }
    let mut customers = Vec::new();
    for c in 0..8 {
        customers.push(seed::customer(db, &format!("CUST-K{c}"), None).await);
    }
    let mut ids = Vec::new();
    for i in 0..n {
        let product = &products[i % products.len()];
        let qty = (i % 3 + 1) as i64;
        let order = seed::order(
            db,
            &format!("ORD-K{i}"),
            &customers[(i * 7) % customers.len()],
            &[(product, qty)],
        )
        .await;
        let day = DAYS[i % DAYS.len()];
        let mut active: orders::ActiveModel = order.into();
        active.placed_at = Set(Some(
            chrono::DateTime::parse_from_rfc3339(&format!("{day}T10:00:00Z")).unwrap(),
        ));
        ids.push(active.update(db).await.unwrap().id);
    }
    for id in &ids {
        workflow::advance(app.ctx(), *id).await.unwrap();
    }
    orders::Entity::find().all(db).await.unwrap()
}
