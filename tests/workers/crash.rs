//! A worker process killed with SIGKILL in the middle of 2,000 orders loses nothing.
use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use orders_flow::{
    models::{
        _entities::{order_items, order_notifications, orders, products},
        statuses::OrderStatus,
    },
    queue::OrderWorkflowJob,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};

use crate::support::{eventually, seed, TestApp};

const ORDERS: usize = 2_000;
const PRODUCTS: usize = 20;
const STOCK: i64 = 80;

fn worker(app: &TestApp) -> Child {
    Command::new(env!("CARGO_BIN_EXE_orders-flow-cli"))
        .args(["start", "--worker"])
        .env("LOCO_ENV", "test")
        .env("REDIS_PREFIX", &app.prefix)
        .env("DATABASE_URL", &app.database_url)
        // Slow payments keep many orders in flight when the kill lands.
        .env("PAYMENT_LATENCY_MS", "150")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn worker")
}

async fn terminal(app: &TestApp) -> u64 {
    orders::Entity::find()
        .filter(orders::Column::Status.is_in(["paid", "failed"]))
        .count(&app.ctx().db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_worker_killed_mid_run_loses_nothing() {
    let app = TestApp::boot().await;
    let db = &app.ctx().db;
    let mut catalog = Vec::new();
    for p in 0..PRODUCTS {
        catalog.push(seed::product(db, &format!("SKU-{p}"), 1_000 + p as i64, STOCK).await);
    }
    let cust = seed::customer(db, "CUST-CRASH", None).await;
    let new_orders: Vec<orders::ActiveModel> = (0..ORDERS)
        .map(|n| orders::ActiveModel {
            external_id: Set(format!("ORD-CRASH-{n}")),
            customer_id: Set(cust.id),
            status: Set(OrderStatus::Pending),
            currency: Set("EUR".into()),
            total_cents: Set(catalog[n % PRODUCTS].price_cents),
            refund_reserved_cents: Set(0),
            refunded_cents: Set(0),
            ..Default::default()
        })
        .collect();
    for batch in new_orders.chunks(500) {
        orders::Entity::insert_many(batch.to_vec())
            .exec(db)
            .await
            .unwrap();
    }
    let ids: Vec<i64> = orders::Entity::find()
        .select_only()
        .column(orders::Column::Id)
        .into_tuple()
        .all(db)
        .await
        .unwrap();
    let items: Vec<order_items::ActiveModel> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| order_items::ActiveModel {
            order_id: Set(*id),
            product_id: Set(catalog[n % PRODUCTS].id),
            line_no: Set(0),
            qty: Set(1),
            unit_price_cents: Set(catalog[n % PRODUCTS].price_cents),
            ..Default::default()
        })
        .collect();
    for batch in items.chunks(500) {
        order_items::Entity::insert_many(batch.to_vec())
            .exec(db)
            .await
            .unwrap();
    }
    let jobs: Vec<OrderWorkflowJob> = ids
        .iter()
        .map(|&order_id| OrderWorkflowJob { order_id })
        .collect();
    app.services()
        .queue::<OrderWorkflowJob>()
        .push_bulk(&jobs)
        .await
        .unwrap();

    let mut first = worker(&app);
    eventually(
        "the run to be under way",
        Duration::from_secs(60),
        || async {
            let done = terminal(&app).await;
            (done >= 100).then_some(done)
        },
    )
    .await;
    first.kill().expect("SIGKILL");
    first.wait().unwrap();
    assert!(
        terminal(&app).await < ORDERS as u64,
        "the kill landed after the run finished"
    );

    let mut second = worker(&app);
    eventually(
        "every order to be terminal",
        Duration::from_secs(120),
        || async { (terminal(&app).await == ORDERS as u64).then_some(()) },
    )
    .await;
    second.kill().unwrap();
    second.wait().unwrap();

    // Stock is conserved: what is left plus what was sold is what there was.
    let left: i64 = products::Entity::find()
        .all(db)
        .await
        .unwrap()
        .iter()
        .map(|p| p.stock)
        .sum();
    let sold = orders::Entity::find()
        .filter(orders::Column::Status.eq("paid"))
        .count(db)
        .await
        .unwrap() as i64;
    assert_eq!(left + sold, STOCK * PRODUCTS as i64);
    assert!(sold > 0);
    // One notification per order, never two.
    let notes = order_notifications::Entity::find().count(db).await.unwrap();
    assert_eq!(notes, ORDERS as u64);
}
