//! Test data written straight to the database (no import involved).
use orders_flow::models::{
    _entities::{customers, order_items, orders, products},
    statuses::OrderStatus,
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, EntityTrait};

pub async fn product(
    db: &DatabaseConnection,
    sku: &str,
    price_cents: i64,
    stock: i64,
) -> products::Model {
    products::ActiveModel {
        sku: Set(sku.to_string()),
        name: Set(format!("Product {sku}")),
        price_cents: Set(price_cents),
        stock: Set(stock),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("product")
}

pub async fn customer(
    db: &DatabaseConnection,
    external_id: &str,
    email: Option<&str>,
) -> customers::Model {
    customers::ActiveModel {
        external_id: Set(external_id.to_string()),
        email: Set(email.map(str::to_string)),
        name: Set(Some(format!("Customer {external_id}"))),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("customer")
}

/// A pending order of `lines` (product, qty), total computed from the prices.
pub async fn order(
    db: &DatabaseConnection,
    external_id: &str,
    customer: &customers::Model,
    lines: &[(&products::Model, i64)],
) -> orders::Model {
    let total = lines.iter().map(|(p, qty)| p.price_cents * qty).sum();
    let order = orders::ActiveModel {
        external_id: Set(external_id.to_string()),
        customer_id: Set(customer.id),
        status: Set(OrderStatus::Pending),
        currency: Set("EUR".to_string()),
        total_cents: Set(total),
        refund_reserved_cents: Set(0),
        refunded_cents: Set(0),
        placed_at: Set(Some(
            chrono::DateTime::parse_from_rfc3339("2025-10-27T16:12:00Z").expect("date"),
        )),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("order");
    let items: Vec<order_items::ActiveModel> = lines
        .iter()
        .enumerate()
        .map(|(i, (p, qty))| order_items::ActiveModel {
            order_id: Set(order.id),
            product_id: Set(p.id),
            line_no: Set(i32::try_from(i).expect("line")),
            qty: Set(*qty),
            unit_price_cents: Set(p.price_cents),
            ..Default::default()
        })
        .collect();
    order_items::Entity::insert_many(items)
        .exec(db)
        .await
        .expect("items");
    order
}

/// A `paid` order of `total_cents` (one item), taken through the real workflow.
/// The app must be booted with `payment.success_rate` 1.0.
pub async fn paid_order(
    ctx: &loco_rs::app::AppContext,
    external_id: &str,
    total_cents: i64,
) -> orders::Model {
    let db = &ctx.db;
    let item = product(db, &format!("SKU-{external_id}"), total_cents, 10).await;
    let buyer = customer(db, &format!("CUST-{external_id}"), None).await;
    let pending = order(db, external_id, &buyer, &[(&item, 1)]).await;
    let cx = orders_flow::workers::JobContext::of(ctx).expect("job context");
    orders_flow::workers::order_workflow::advance(&cx, pending.id)
        .await
        .expect("workflow");
    let paid = orders::Entity::find_by_id(pending.id)
        .one(db)
        .await
        .expect("order")
        .expect("order exists");
    assert_eq!(
        paid.status.as_str(),
        "paid",
        "boot with payment.success_rate 1.0"
    );
    paid
}
