//! A few hundred orders over three days, through the real workflow, with
//! declines and shortages, for the KPI tests.
use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use orders_flow::{
    models::{_entities::orders, kpi},
    workers::order_workflow,
};
use redis::aio::ConnectionManager;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, EntityTrait};

use super::{eventually, seed, TestApp};

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
        order_workflow::advance(&app.jobs(), *id).await.unwrap();
    }
    orders::Entity::find().all(db).await.unwrap()
}

/// Drains the KPI outbox until no committed event waits; returns how many
/// events were newly applied in all. One drain can stop short on PostgreSQL:
/// it never passes a transaction that is still running anywhere in the
/// cluster, and other tests run beside this one. A drain that fails (Redis
/// away) counts as nothing applied yet.
pub async fn drain_all(db: &DatabaseConnection, redis: &ConnectionManager, prefix: &str) -> u64 {
    let total = AtomicU64::new(0);
    eventually(
        "the KPI outbox to drain",
        Duration::from_secs(20),
        || async {
            total.fetch_add(kpi::drain(db, redis, prefix).await.ok()?, Ordering::SeqCst);
            (kpi::ledger::pending_count(db).await.unwrap() == 0).then_some(())
        },
    )
    .await;
    total.into_inner()
}
