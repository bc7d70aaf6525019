//! SQLite's finalize, sent as one text from `BEGIN IMMEDIATE` to `COMMIT`
//! (`models/workflow/batch/one_text.rs`): it writes what the Rust code builds;
//! only orders still `reserved` are paid or failed, and stock comes back and a
//! payment is written once however often it runs; stopped half-way it changes
//! nothing.
use orders_flow::models::{
    _entities::{kpi_events, order_notifications, orders, payments, products},
    kpi_events::KpiKind,
    statuses::OrderStatus,
    workflow,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder,
};

use crate::support::{
    batch_rows::{
        assert_event_as_built, assert_notification_as_built, customers_by_id, reload, stock_of,
    },
    on_sqlite, seed, TestApp,
};

const PROVIDER: &str = "test-gateway";

/// Two products with 10 each, and one order per `shape` (external id, items
/// of the first and second product), all reserved.
async fn reserved_orders(
    db: &DatabaseConnection,
    shapes: &[(&str, i64, i64)],
) -> (Vec<orders::Model>, [products::Model; 2]) {
    let first = seed::product(db, "SKU-ONE", 1_000, 10).await;
    let second = seed::product(db, "SKU-TWO", 250, 10).await;
    let mut orders = Vec::new();
    for (external_id, of_first, of_second) in shapes {
        let customer = seed::customer(
            db,
            &format!("CUST-{external_id}"),
            Some("buyer@example.com"),
        )
        .await;
        let lines: Vec<(&products::Model, i64)> = [(&first, *of_first), (&second, *of_second)]
            .into_iter()
            .filter(|(_, qty)| *qty > 0)
            .collect();
        orders.push(seed::order(db, external_id, &customer, &lines).await);
    }
    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
    let moved = workflow::batch::reserve_many(db, &ids, true).await.unwrap();
    assert_eq!(moved.orders.len(), orders.len(), "all reserved");
    (orders, [first, second])
}

async fn stock(db: &DatabaseConnection, products: &[products::Model; 2]) -> [i64; 2] {
    let mut stock = [0; 2];
    for (slot, product) in stock.iter_mut().zip(products) {
        *slot = stock_of(db, product).await;
    }
    stock
}

/// `(order id, what)` of every payment, KPI event and notification, in id order.
async fn written(db: &DatabaseConnection) -> Vec<(i64, String)> {
    let mut rows: Vec<(i64, String)> = payments::Entity::find()
        .order_by_asc(payments::Column::Id)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.order_id, format!("payment {}", p.amount_cents)))
        .collect();
    rows.extend(
        kpi_events::Entity::find()
            .order_by_asc(kpi_events::Column::Id)
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.order_id, e.kind)),
    );
    rows.extend(
        order_notifications::Entity::find()
            .order_by_asc(order_notifications::Column::Id)
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|n| (n.order_id, format!("notification {}", n.event))),
    );
    rows
}

#[tokio::test]
async fn the_rows_written_in_one_text_are_the_ones_rust_builds() {
    let app = TestApp::boot_config(on_sqlite).await;
    let db = &app.ctx().db;
    let (orders, products) = reserved_orders(
        db,
        &[("ORD-PAID", 1, 2), ("ORD-DECL", 2, 0), ("ORD-BOTH", 1, 3)],
    )
    .await;
    assert_eq!(stock(db, &products).await, [6, 5]);
    // A gateway's reference is the gateway's text: JSON and SQL carry it unchanged.
    let reference = "ref-\"quoted\"\\back\té🙂";

    let moved = workflow::batch::finalize_many(
        db,
        &[(orders[0].id, reference.to_owned())],
        &[orders[1].id, orders[2].id],
        PROVIDER,
        true,
    )
    .await
    .unwrap();

    // The declined orders' stock back, per product: 2 + 1 and 0 + 3.
    assert_eq!(stock(db, &products).await, [9, 8]);
    let paid = reload(db, &orders[0]).await;
    assert_eq!(paid.status, OrderStatus::Paid);
    assert!(paid.paid_at.is_some() && paid.paid_at == paid.finished_at);
    assert_eq!(
        moved.orders,
        std::slice::from_ref(&paid),
        "handed back as stored"
    );
    let payment = payments::Entity::find()
        .filter(payments::Column::OrderId.eq(paid.id))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            payment.amount_cents,
            payment.currency.as_str(),
            payment.provider.as_str(),
            payment.provider_ref.as_str(),
            payment.status.as_str()
        ),
        (paid.total_cents, "EUR", PROVIDER, reference, "captured")
    );

    let customers = customers_by_id(db).await;
    let notifications = order_notifications::Entity::find()
        .order_by_asc(order_notifications::Column::Id)
        .all(db)
        .await
        .unwrap();
    assert_eq!(
        moved.notifications,
        notifications.iter().map(|n| n.id).collect::<Vec<_>>()
    );
    let events = kpi_events::Entity::find().all(db).await.unwrap();
    assert_eq!((notifications.len(), events.len()), (3, 3));
    for order in &orders {
        let now = reload(db, order).await;
        let (kind, revenue) = if now.id == paid.id {
            (KpiKind::OrderPaid, paid.total_cents)
        } else {
            assert_eq!(
                (now.status, now.failure_reason.map(|r| r.as_str())),
                (OrderStatus::Failed, Some("payment_declined"))
            );
            assert!(now.finished_at.is_some());
            (KpiKind::OrderFailed, 0)
        };
        let row = notifications
            .iter()
            .find(|n| n.order_id == order.id)
            .unwrap();
        assert_notification_as_built(row, &now, &customers[&now.customer_id], true);
        let row = events.iter().find(|e| e.order_id == order.id).unwrap();
        assert_event_as_built(row, kind, &now);
        assert_eq!(
            (row.kind.as_str(), row.revenue_delta_cents),
            (kind.as_str(), revenue)
        );
    }
}

#[tokio::test]
async fn run_twice_it_moves_each_reserved_order_once_and_leaves_the_others_alone() {
    let app = TestApp::boot_config(on_sqlite).await;
    let db = &app.ctx().db;
    let (orders, products) = reserved_orders(
        db,
        &[("ORD-A", 1, 0), ("ORD-B", 0, 2), ("ORD-ELSEWHERE", 1, 1)],
    )
    .await;
    // Another job finished ORD-ELSEWHERE meanwhile: it is no longer reserved.
    let mut elsewhere: orders::ActiveModel = orders[2].clone().into();
    elsewhere.status = Set(OrderStatus::Failed);
    elsewhere.update(db).await.unwrap();
    // And a pending order that was never reserved is declined by mistake.
    let customer = seed::customer(db, "CUST-PENDING", None).await;
    let pending = seed::order(db, "ORD-PENDING", &customer, &[(&products[0], 4)]).await;
    assert_eq!(stock(db, &products).await, [8, 7]);
    let approved = [
        (orders[0].id, "ref-A".to_owned()),
        (orders[2].id, "ref-ELSEWHERE".to_owned()),
    ];
    let declined = [orders[1].id, orders[2].id, pending.id];

    let first = workflow::batch::finalize_many(db, &approved, &declined, PROVIDER, false)
        .await
        .unwrap();
    let again = workflow::batch::finalize_many(db, &approved, &declined, PROVIDER, false)
        .await
        .unwrap();

    // ORD-B's 2 back, once; nothing of ORD-ELSEWHERE's or ORD-PENDING's.
    assert_eq!(stock(db, &products).await, [8, 9]);
    let (a, b) = (orders[0].id, orders[1].id);
    assert_eq!(
        written(db).await,
        [
            (a, "payment 1000".to_owned()),
            (a, "order_paid".to_owned()),
            (b, "order_failed".to_owned()),
            (a, "notification paid".to_owned()),
            (b, "notification failed".to_owned()),
        ]
    );
    assert_eq!(first.orders.iter().map(|o| o.id).collect::<Vec<_>>(), [a]);
    assert_eq!(first.notifications.len(), 2);
    assert!(again.orders.is_empty() && again.notifications.is_empty());
    assert_eq!(reload(db, &orders[2]).await.status, OrderStatus::Failed);
    assert_eq!(reload(db, &pending).await.status, OrderStatus::Pending);
}

#[tokio::test]
async fn stopped_half_way_it_changes_nothing() {
    let app = TestApp::boot_config(on_sqlite).await;
    let db = &app.ctx().db;
    let (orders, products) = reserved_orders(db, &[("ORD-X", 1, 1), ("ORD-Y", 2, 0)]).await;
    // The notifications' insert fails, after the stock, the payment and the
    // KPI events were written.
    db.execute_unprepared(
        "CREATE TRIGGER refuse_notifications BEFORE INSERT ON order_notifications \
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    )
    .await
    .unwrap();
    let approved = [(orders[0].id, "ref-X".to_owned())];
    let declined = [orders[1].id];

    let refused = workflow::batch::finalize_many(db, &approved, &declined, PROVIDER, false).await;

    let error = refused.expect_err("the trigger refuses the notifications");
    assert!(error.to_string().contains("refused by the test"), "{error}");
    assert_eq!(stock(db, &products).await, [7, 9]);
    assert!(written(db).await.is_empty());
    for order in &orders {
        assert_eq!(reload(db, order).await.status, OrderStatus::Reserved);
    }
    db.execute_unprepared("DROP TRIGGER refuse_notifications")
        .await
        .unwrap();

    let moved = workflow::batch::finalize_many(db, &approved, &declined, PROVIDER, false)
        .await
        .unwrap();

    assert_eq!(moved.notifications.len(), 2);
    assert_eq!(stock(db, &products).await, [9, 9]);
    assert_eq!(reload(db, &orders[0]).await.status, OrderStatus::Paid);
    assert_eq!(reload(db, &orders[1]).await.status, OrderStatus::Failed);
}
