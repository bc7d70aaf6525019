//! The reservation text's guard, against a real SQLite file: a plan made on a
//! stock read that went stale before the text ran writes nothing, so that the
//! caller can go step by step. Through `reserve_many` the window between the
//! read and the text cannot be held open from outside; here the plan is made
//! by hand, then the rows change under it.
use std::collections::BTreeMap;

use migration::MigratorTrait;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, Database, DatabaseConnection, EntityTrait,
};

use super::{pending_of, reserve};
use crate::models::{
    _entities::{customers, order_items, orders, products},
    statuses::OrderStatus,
};

/// A migrated SQLite database in a file of its own, removed when dropped.
struct Scratch {
    db: DatabaseConnection,
    path: std::path::PathBuf,
}

impl Scratch {
    async fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "orders-flow-{name}-{}-{}.sqlite",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        let db = Database::connect(format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .expect("sqlite");
        migration::Migrator::up(&db, None)
            .await
            .expect("migrations");
        Self { db, path }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

/// Two products with `stock` each, and one pending order per entry of
/// `wants` (quantities of the first and second product).
async fn seed(
    db: &DatabaseConnection,
    stock: i64,
    wants: &[(i64, i64)],
) -> ([products::Model; 2], Vec<orders::Model>) {
    let mut products = Vec::new();
    for sku in ["SKU-ONE", "SKU-TWO"] {
        let product = products::ActiveModel {
            sku: Set(sku.to_owned()),
            name: Set(sku.to_owned()),
            price_cents: Set(100),
            stock: Set(stock),
            ..Default::default()
        };
        products.push(product.insert(db).await.expect("product"));
    }
    let customer = customers::ActiveModel {
        external_id: Set("CUST-1".to_owned()),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("customer");
    let mut orders = Vec::new();
    for (n, want) in wants.iter().enumerate() {
        let order = orders::ActiveModel {
            external_id: Set(format!("ORD-{n}")),
            customer_id: Set(customer.id),
            status: Set(OrderStatus::Pending),
            currency: Set("EUR".to_owned()),
            total_cents: Set(100 * (want.0 + want.1)),
            refund_reserved_cents: Set(0),
            refunded_cents: Set(0),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("order");
        let lines = products.iter().zip([want.0, want.1]);
        for (line_no, (product, qty)) in lines.filter(|(_, qty)| *qty > 0).enumerate() {
            order_items::ActiveModel {
                order_id: Set(order.id),
                product_id: Set(product.id),
                line_no: Set(i32::try_from(line_no).expect("line")),
                qty: Set(qty),
                unit_price_cents: Set(product.price_cents),
                ..Default::default()
            }
            .insert(db)
            .await
            .expect("item");
        }
        orders.push(order);
    }
    let products: [products::Model; 2] = products.try_into().expect("two");
    (products, orders)
}

/// `(stock of both products, status of every order)`, as stored now.
async fn state(
    db: &DatabaseConnection,
    products: &[products::Model; 2],
    orders: &[orders::Model],
) -> ([i64; 2], Vec<OrderStatus>) {
    let mut stock = [0; 2];
    for (slot, product) in stock.iter_mut().zip(products) {
        *slot = products::Entity::find_by_id(product.id)
            .one(db)
            .await
            .expect("read")
            .expect("product")
            .stock;
    }
    let mut statuses = Vec::new();
    for order in orders {
        let now = orders::Entity::find_by_id(order.id)
            .one(db)
            .await
            .expect("read")
            .expect("order");
        statuses.push(now.status);
    }
    (stock, statuses)
}

/// The plan `reserve_many` makes when every order fits: all of them, and
/// their items summed by product.
async fn plan(
    db: &DatabaseConnection,
    products: &[products::Model; 2],
    orders: &[orders::Model],
    wants: &[(i64, i64)],
) -> (Vec<orders::Model>, BTreeMap<i64, i64>) {
    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
    let pending = pending_of(db, &ids).await.expect("pending");
    let taken = BTreeMap::from([
        (products[0].id, wants.iter().map(|w| w.0).sum()),
        (products[1].id, wants.iter().map(|w| w.1).sum()),
    ]);
    (pending, taken)
}

const WANTS: [(i64, i64); 3] = [(2, 1), (1, 3), (3, 0)];

#[tokio::test]
async fn a_plan_that_still_holds_reserves_every_order_and_takes_their_stock() {
    let scratch = Scratch::new("reserve-holds").await;
    let db = &scratch.db;
    let (products, orders) = seed(db, 10, &WANTS).await;
    let (pending, taken) = plan(db, &products, &orders, &WANTS).await;

    let reserved = reserve(db, pending, &taken)
        .await
        .expect("text")
        .expect("the plan holds");

    let (stock, statuses) = state(db, &products, &orders).await;
    assert_eq!(stock, [4, 6]);
    assert_eq!(statuses, [OrderStatus::Reserved; 3]);
    let mut stored = Vec::new();
    for order in &orders {
        stored.push(
            orders::Entity::find_by_id(order.id)
                .one(db)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    assert_eq!(reserved, stored, "handed back as stored");
}

#[tokio::test]
async fn stock_taken_after_the_plan_was_made_leaves_everything_as_it_was() {
    let scratch = Scratch::new("reserve-stock").await;
    let db = &scratch.db;
    let (products, orders) = seed(db, 10, &WANTS).await;
    let (pending, taken) = plan(db, &products, &orders, &WANTS).await;
    // Another batch took stock meanwhile: the second product has 3, the
    // plan wants 4 of it. The first still has enough.
    db.execute_unprepared(&format!(
        "UPDATE products SET stock = 3 WHERE id = {}",
        products[1].id
    ))
    .await
    .unwrap();

    assert_eq!(reserve(db, pending, &taken).await.expect("text"), None);

    assert_eq!(
        state(db, &products, &orders).await,
        ([10, 3], vec![OrderStatus::Pending; 3])
    );
}

#[tokio::test]
async fn an_order_moved_after_the_plan_was_made_leaves_everything_as_it_was() {
    let scratch = Scratch::new("reserve-moved").await;
    let db = &scratch.db;
    let (products, orders) = seed(db, 10, &WANTS).await;
    let (pending, taken) = plan(db, &products, &orders, &WANTS).await;
    // Another job failed the last order meanwhile.
    db.execute_unprepared(&format!(
        "UPDATE orders SET status = 'failed' WHERE id = {}",
        orders[2].id
    ))
    .await
    .unwrap();

    assert_eq!(reserve(db, pending, &taken).await.expect("text"), None);

    assert_eq!(
        state(db, &products, &orders).await,
        (
            [10, 10],
            vec![
                OrderStatus::Pending,
                OrderStatus::Pending,
                OrderStatus::Failed
            ]
        )
    );
}

#[tokio::test]
async fn a_product_gone_after_the_plan_was_made_leaves_everything_as_it_was() {
    let scratch = Scratch::new("reserve-gone").await;
    let db = &scratch.db;
    let (products, orders) = seed(db, 10, &WANTS).await;
    let (pending, mut taken) = plan(db, &products, &orders, &WANTS).await;
    // A product the plan names that is not there (no row to take from).
    taken.insert(products[1].id + 1_000, 1);

    assert_eq!(reserve(db, pending, &taken).await.expect("text"), None);

    assert_eq!(
        state(db, &products, &orders).await,
        ([10, 10], vec![OrderStatus::Pending; 3])
    );
}
