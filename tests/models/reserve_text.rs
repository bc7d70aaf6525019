//! SQLite's reservation, sent as one text when the stock read before the write
//! lock lets every pending order of a batch fit (`models/workflow/batch/
//! reserve.rs` and `one_text.rs`), and step by step otherwise: either way the
//! orders that fit, in id order, are reserved, their stock taken once, and no
//! order another job moved is touched. The guard that makes the text write
//! nothing when its plan went stale is tested beside the text, in
//! `one_text.rs`.
use std::collections::HashMap;

use orders_flow::models::{
    _entities::{kpi_events, order_notifications, orders, products},
    statuses::OrderStatus,
    workflow,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
};

use crate::support::{
    batch_rows::{reload, stock_of},
    on_sqlite, seed, TestApp,
};

/// `(status, failure reason)` of each of `orders`, as stored now.
async fn states(
    db: &DatabaseConnection,
    orders: &[orders::Model],
) -> Vec<(OrderStatus, Option<&'static str>)> {
    let mut states = Vec::new();
    for order in orders {
        let now = reload(db, order).await;
        states.push((now.status, now.failure_reason.map(|r| r.as_str())));
    }
    states
}

#[tokio::test]
async fn a_batch_that_fits_is_reserved_once_and_orders_moved_elsewhere_are_left_alone() {
    let app = TestApp::boot_config(on_sqlite).await;
    let db = &app.ctx().db;
    let first = seed::product(db, "SKU-ONE", 1_000, 10).await;
    let second = seed::product(db, "SKU-TWO", 250, 10).await;
    let customer = seed::customer(db, "CUST-1", Some("buyer@example.com")).await;
    let mut orders = Vec::new();
    for (external_id, lines) in [
        ("ORD-A", vec![(&first, 2), (&second, 1)]),
        ("ORD-B", vec![(&second, 3)]),
        ("ORD-RESERVED", vec![(&first, 1)]),
        ("ORD-FAILED", vec![(&first, 4)]),
        ("ORD-C", vec![(&first, 1), (&second, 1)]),
    ] {
        orders.push(seed::order(db, external_id, &customer, &lines).await);
    }
    // Another job reserved one of them already, and failed another.
    workflow::batch::reserve_many(db, &[orders[2].id], true)
        .await
        .unwrap();
    let mut failed: orders::ActiveModel = orders[3].clone().into();
    failed.status = Set(OrderStatus::Failed);
    failed.update(db).await.unwrap();
    assert_eq!(
        (stock_of(db, &first).await, stock_of(db, &second).await),
        (9, 10)
    );

    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
    let moved = workflow::batch::reserve_many(db, &ids, true).await.unwrap();

    // ORD-A, ORD-B and ORD-C: 2 + 1 of the first, 1 + 3 + 1 of the second.
    assert_eq!(
        (stock_of(db, &first).await, stock_of(db, &second).await),
        (6, 5)
    );
    let mut handed_back = Vec::new();
    for order in [&orders[0], &orders[1], &orders[4]] {
        handed_back.push(reload(db, order).await);
    }
    assert_eq!(moved.orders, handed_back, "handed back as stored");
    assert!(moved.notifications.is_empty());
    assert_eq!(
        states(db, &orders).await,
        [
            (OrderStatus::Reserved, None),
            (OrderStatus::Reserved, None),
            (OrderStatus::Reserved, None),
            (OrderStatus::Failed, None),
            (OrderStatus::Reserved, None),
        ]
    );

    // Run again, it moves nothing and takes no stock.
    let again = workflow::batch::reserve_many(db, &ids, true).await.unwrap();
    assert!(again.orders.is_empty() && again.notifications.is_empty());
    assert_eq!(
        (stock_of(db, &first).await, stock_of(db, &second).await),
        (6, 5)
    );
}

#[tokio::test]
async fn stock_that_runs_out_within_the_batch_is_shared_in_id_order() {
    let app = TestApp::boot_config(on_sqlite).await;
    let db = &app.ctx().db;
    let item = seed::product(db, "SKU-LAST", 500, 3).await;
    let customer = seed::customer(db, "CUST-1", Some("buyer@example.com")).await;
    let mut orders = Vec::new();
    // Each fits alone; together they want 5 of 3.
    for (external_id, qty) in [("ORD-1", 2), ("ORD-2", 2), ("ORD-3", 1)] {
        orders.push(seed::order(db, external_id, &customer, &[(&item, qty)]).await);
    }
    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();

    let moved = workflow::batch::reserve_many(db, &ids, true).await.unwrap();

    assert_eq!(
        states(db, &orders).await,
        [
            (OrderStatus::Reserved, None),
            (OrderStatus::Failed, Some("out_of_stock")),
            (OrderStatus::Reserved, None),
        ]
    );
    assert_eq!(stock_of(db, &item).await, 0);
    let reserved: Vec<i64> = moved.orders.iter().map(|o| o.id).collect();
    assert_eq!(reserved, [orders[0].id, orders[2].id]);
    // The one that did not fit has its KPI event and notification.
    let notifications = order_notifications::Entity::find()
        .filter(order_notifications::Column::OrderId.eq(orders[1].id))
        .all(db)
        .await
        .unwrap();
    assert_eq!(
        moved.notifications,
        notifications.iter().map(|n| n.id).collect::<Vec<_>>()
    );
    assert_eq!(notifications.len(), 1);
    let events = kpi_events::Entity::find()
        .filter(kpi_events::Column::OrderId.is_in(ids))
        .all(db)
        .await
        .unwrap();
    assert_eq!(
        events.iter().map(|e| e.order_id).collect::<Vec<_>>(),
        [orders[1].id]
    );
}

/// Many batches at once over the same few products: stock is never taken
/// twice nor below zero, and every order ends reserved or failed once.
#[tokio::test]
async fn concurrent_batches_take_each_unit_of_stock_once() {
    const BATCHES: usize = 12;
    const PER_BATCH: usize = 6;
    let app = TestApp::boot_config(on_sqlite).await;
    let db = &app.ctx().db;
    let mut products = Vec::new();
    for (sku, stock) in [("SKU-A", 20), ("SKU-B", 15), ("SKU-C", 40)] {
        products.push(seed::product(db, sku, 100, stock).await);
    }
    let customer = seed::customer(db, "CUST-1", None).await;
    let mut batches = Vec::new();
    let mut wanted: HashMap<i64, Vec<(usize, i64)>> = HashMap::new();
    for b in 0..BATCHES {
        let mut batch = Vec::new();
        for o in 0..PER_BATCH {
            let n = b * PER_BATCH + o;
            let lines = [(n % 3, 1 + (n % 4) as i64), ((n + 1) % 3, 1)];
            let with: Vec<(&products::Model, i64)> =
                lines.iter().map(|&(p, q)| (&products[p], q)).collect();
            let order = seed::order(db, &format!("ORD-{n}"), &customer, &with).await;
            wanted.insert(order.id, lines.to_vec());
            batch.push(order.id);
        }
        batches.push(batch);
    }

    let tasks: Vec<_> = batches
        .into_iter()
        .map(|ids| {
            let db = db.clone();
            tokio::spawn(async move { workflow::batch::reserve_many(&db, &ids, false).await })
        })
        .collect();
    let mut handed_back = Vec::new();
    for task in tasks {
        let moved = task.await.unwrap().unwrap();
        handed_back.extend(moved.orders.into_iter().map(|o| o.id));
    }

    let all = orders::Entity::find().all(db).await.unwrap();
    let mut taken = [0_i64; 3];
    let mut reserved = Vec::new();
    for order in &all {
        match order.status {
            OrderStatus::Reserved => {
                reserved.push(order.id);
                for &(p, q) in &wanted[&order.id] {
                    taken[p] += q;
                }
            }
            OrderStatus::Failed => {
                assert_eq!(
                    order.failure_reason.map(|r| r.as_str()),
                    Some("out_of_stock")
                );
            }
            other => panic!("order {} left {other:?}", order.id),
        }
    }
    handed_back.sort_unstable();
    reserved.sort_unstable();
    assert_eq!(
        handed_back, reserved,
        "each reserved order handed back once"
    );
    assert!(!reserved.is_empty() && reserved.len() < all.len());
    for (product, (initial, taken)) in products.iter().zip([20, 15, 40].iter().zip(taken)) {
        let left = stock_of(db, product).await;
        assert_eq!(left, initial - taken, "{}", product.sku);
        assert!(left >= 0);
    }
    // One KPI event per failed order.
    let failed = all.len() - reserved.len();
    let events = kpi_events::Entity::find().all(db).await.unwrap();
    assert_eq!(events.len(), failed);
}
