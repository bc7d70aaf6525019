//! The order workflow against a real database and Redis: outcomes, exactly-once
//! effects, concurrency on stock, retries on gateway errors, and recovery.
use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use async_trait::async_trait;
use orders_flow::{
    models::{
        _entities::{kpi_events, order_notifications, orders, payments, products},
        workflow::{
            self,
            gateway::{Charge, ChargeOutcome, GatewayError, PaymentGateway},
        },
    },
    queue::{NotificationJob, OrderWorkflowJob},
    workers::{order_workflow, recovery, worker_set, Services},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter,
    TransactionTrait,
};

use crate::support::{eventually, seed, TestApp};

async fn boot(success_rate: f64) -> TestApp {
    TestApp::boot_with(|s| s["payment"]["success_rate"] = serde_json::json!(success_rate)).await
}

async fn order_of(app: &TestApp, id: i64) -> orders::Model {
    orders::Entity::find_by_id(id)
        .one(&app.ctx().db)
        .await
        .unwrap()
        .unwrap()
}

async fn stock_of(app: &TestApp, id: i64) -> i64 {
    products::Entity::find_by_id(id)
        .one(&app.ctx().db)
        .await
        .unwrap()
        .unwrap()
        .stock
}

async fn count<E>(app: &TestApp, filter: sea_orm::sea_query::SimpleExpr) -> u64
where
    E: EntityTrait,
    E::Model: Sync,
{
    E::find().filter(filter).count(&app.ctx().db).await.unwrap()
}

/// Everything an order's workflow may have written, to compare runs.
async fn effects(app: &TestApp, order_id: i64) -> (String, u64, u64, u64) {
    let order = order_of(app, order_id).await;
    (
        order.status.to_string(),
        count::<payments::Entity>(app, payments::Column::OrderId.eq(order_id)).await,
        count::<order_notifications::Entity>(
            app,
            order_notifications::Column::OrderId.eq(order_id),
        )
        .await,
        count::<kpi_events::Entity>(app, kpi_events::Column::OrderId.eq(order_id)).await,
    )
}

#[tokio::test]
async fn enough_stock_reserves_charges_and_pays() {
    let app = boot(1.0).await;
    let db = &app.ctx().db;
    let phone = seed::product(db, "SKU-PHONE", 109_900, 10).await;
    let charger = seed::product(db, "SKU-CHARGER", 1_998, 10).await;
    let jane = seed::customer(db, "CUST-001", Some("jane@example.com")).await;
    let order = seed::order(db, "ORD-1", &jane, &[(&phone, 1), (&charger, 3)]).await;

    order_workflow::advance(&app.jobs(), order.id)
        .await
        .unwrap();

    let paid = order_of(&app, order.id).await;
    assert_eq!(paid.status.as_str(), "paid");
    assert!(paid.paid_at.is_some());
    assert_eq!(
        (
            stock_of(&app, phone.id).await,
            stock_of(&app, charger.id).await
        ),
        (9, 7)
    );
    let payment = payments::Entity::find().one(db).await.unwrap().unwrap();
    assert_eq!(
        (payment.order_id, payment.amount_cents),
        (order.id, 115_894)
    );
    let event = kpi_events::Entity::find().one(db).await.unwrap().unwrap();
    assert_eq!(
        (
            event.kind.as_str(),
            event.revenue_delta_cents,
            event.day.as_str()
        ),
        ("order_paid", 115_894, "2025-10-27")
    );
    let note = order_notifications::Entity::find()
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (note.event.as_str(), note.status.as_str()),
        ("paid", "queued")
    );
    let payload: serde_json::Value = serde_json::from_str(&note.payload).unwrap();
    insta::assert_json_snapshot!("paid_notification_payload", payload, { ".internal_order_id" => "[id]" });
    let queued = app
        .services()
        .queue::<NotificationJob>()
        .counts()
        .await
        .unwrap();
    assert_eq!(queued.pending, 1, "exactly one notification job");
}

#[tokio::test]
async fn a_shortage_fails_the_order_without_charging_or_touching_stock() {
    let app = boot(1.0).await;
    let db = &app.ctx().db;
    let plenty = seed::product(db, "SKU-A", 500, 10).await;
    let scarce = seed::product(db, "SKU-B", 700, 1).await;
    let john = seed::customer(db, "CUST-002", None).await;
    let order = seed::order(db, "ORD-2", &john, &[(&plenty, 2), (&scarce, 2)]).await;

    order_workflow::advance(&app.jobs(), order.id)
        .await
        .unwrap();

    let failed = order_of(&app, order.id).await;
    assert_eq!(
        (
            failed.status.as_str(),
            failed.failure_reason.map(|r| r.as_str())
        ),
        ("failed", Some("out_of_stock"))
    );
    assert_eq!(
        (
            stock_of(&app, plenty.id).await,
            stock_of(&app, scarce.id).await
        ),
        (10, 1),
        "all or nothing"
    );
    assert_eq!(
        effects(&app, order.id).await,
        ("failed".to_string(), 0, 1, 1)
    );
    let note = order_notifications::Entity::find()
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (note.event.as_str(), note.channel.as_str()),
        ("failed", "log")
    );
    assert!(note.payload.contains("out_of_stock"));
}

/// An order that needs more than a product has at all fails without waiting
/// for that product's lock: another transaction holds it here for the whole test.
#[tokio::test]
async fn a_sold_out_order_fails_without_waiting_for_the_product_lock() {
    let app = boot(1.0).await;
    let db = &app.ctx().db;
    if db.get_database_backend() != DbBackend::Postgres {
        return; // SQLite has one writer: every write waits for the holder.
    }
    let item = seed::product(db, "SKU-SOLD", 1_000, 1).await;
    let cust = seed::customer(db, "CUST-SOLD", None).await;
    let order = seed::order(db, "ORD-SOLD", &cust, &[(&item, 2)]).await;
    let holder = db.begin().await.unwrap();
    holder
        .execute_unprepared(&format!(
            "SELECT id FROM products WHERE id = {} FOR NO KEY UPDATE",
            item.id
        ))
        .await
        .unwrap();

    let moved = tokio::time::timeout(
        Duration::from_secs(10),
        workflow::batch::reserve_many(db, &[order.id], false),
    )
    .await
    .expect("decided without the product lock")
    .unwrap();
    holder.rollback().await.unwrap();

    assert!(moved.orders.is_empty());
    assert_eq!(moved.notifications.len(), 1);
    let failed = order_of(&app, order.id).await;
    assert_eq!(
        (
            failed.status.as_str(),
            failed.failure_reason.map(|r| r.as_str())
        ),
        ("failed", Some("out_of_stock"))
    );
    assert_eq!(stock_of(&app, item.id).await, 1);
}

#[tokio::test]
async fn a_decline_gives_the_stock_back_exactly() {
    let app = boot(0.0).await;
    let db = &app.ctx().db;
    let item = seed::product(db, "SKU-C", 4_999, 5).await;
    let mila = seed::customer(db, "CUST-003", None).await;
    let order = seed::order(db, "ORD-3", &mila, &[(&item, 2)]).await;

    order_workflow::advance(&app.jobs(), order.id)
        .await
        .unwrap();
    order_workflow::advance(&app.jobs(), order.id)
        .await
        .unwrap();

    let failed = order_of(&app, order.id).await;
    assert_eq!(
        failed.failure_reason.map(|r| r.as_str()),
        Some("payment_declined")
    );
    assert_eq!(stock_of(&app, item.id).await, 5, "released once, not twice");
    assert_eq!(
        effects(&app, order.id).await,
        ("failed".to_string(), 0, 1, 1)
    );
}

#[tokio::test]
async fn running_the_same_job_again_changes_nothing() {
    let app = boot(1.0).await;
    let db = &app.ctx().db;
    let item = seed::product(db, "SKU-D", 1_000, 100).await;
    let cust = seed::customer(db, "CUST-004", None).await;
    let sequential = seed::order(db, "ORD-SEQ", &cust, &[(&item, 3)]).await;
    let concurrent = seed::order(db, "ORD-CON", &cust, &[(&item, 4)]).await;

    order_workflow::advance(&app.jobs(), sequential.id)
        .await
        .unwrap();
    let first = effects(&app, sequential.id).await;
    order_workflow::advance(&app.jobs(), sequential.id)
        .await
        .unwrap();
    assert_eq!(effects(&app, sequential.id).await, first);
    assert_eq!(first, ("paid".to_string(), 1, 1, 1));

    let runs = (0..8).map(|_| {
        let ctx = app.jobs();
        tokio::spawn(async move { order_workflow::advance(&ctx, concurrent.id).await })
    });
    for run in futures::future::join_all(runs).await {
        run.unwrap().unwrap();
    }
    assert_eq!(
        effects(&app, concurrent.id).await,
        ("paid".to_string(), 1, 1, 1)
    );
    assert_eq!(
        stock_of(&app, item.id).await,
        100 - 3 - 4,
        "each order reserved once"
    );
}

#[tokio::test]
async fn two_hundred_orders_race_for_fifty_units() {
    let app = boot(1.0).await;
    let db = &app.ctx().db;
    let hot = seed::product(db, "SKU-HOT", 2_500, 50).await;
    let cust = seed::customer(db, "CUST-005", None).await;
    let mut jobs = Vec::new();
    for n in 0..200 {
        let order = seed::order(db, &format!("ORD-HOT-{n}"), &cust, &[(&hot, 1)]).await;
        jobs.push(OrderWorkflowJob { order_id: order.id });
    }
    let services = app.services();
    let queue = services.queue::<OrderWorkflowJob>();
    queue.push_bulk(&jobs).await.unwrap();
    // 64 concurrent workflow jobs (settings.queues.workflow.concurrency in test.yaml).
    assert!(services.settings.queues.workflow.concurrency >= 32);
    let workers = worker_set(&app.jobs())
        .add::<OrderWorkflowJob>()
        .start()
        .await
        .unwrap();
    eventually(
        "every order to be terminal",
        Duration::from_secs(120),
        || async {
            let open = count::<orders::Entity>(
                &app,
                orders::Column::Status.is_in(["pending", "reserved"]),
            )
            .await;
            (open == 0).then_some(())
        },
    )
    .await;
    workers.stop().await;
    assert_eq!(
        count::<orders::Entity>(&app, orders::Column::Status.eq("paid")).await,
        50
    );
    assert_eq!(
        count::<orders::Entity>(&app, orders::Column::FailureReason.eq("out_of_stock")).await,
        150
    );
    assert_eq!(stock_of(&app, hot.id).await, 0);
}

/// Times out `failures` times, then approves.
struct FlakyGateway {
    failures: usize,
    calls: AtomicUsize,
}

#[async_trait]
impl PaymentGateway for FlakyGateway {
    fn name(&self) -> &'static str {
        "flaky"
    }

    async fn charge(&self, charge: &Charge) -> Result<ChargeOutcome, GatewayError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Err(GatewayError::Timeout);
        }
        Ok(ChargeOutcome::Approved {
            reference: format!("flaky-{}", charge.order_id),
        })
    }
}

#[tokio::test]
async fn a_gateway_timeout_is_retried_not_declined() {
    let app = boot(1.0).await;
    let db = &app.ctx().db;
    let item = seed::product(db, "SKU-E", 1_000, 3).await;
    let cust = seed::customer(db, "CUST-006", None).await;
    let order = seed::order(db, "ORD-FLAKY", &cust, &[(&item, 1)]).await;
    let gateway = Arc::new(FlakyGateway {
        failures: 2,
        calls: AtomicUsize::new(0),
    });
    let services = Services {
        gateway: gateway.clone(),
        ..app.services()
    };
    app.ctx().shared_store.insert(services.clone());

    services
        .queue::<OrderWorkflowJob>()
        .push(&OrderWorkflowJob { order_id: order.id })
        .await
        .unwrap();
    let workers = worker_set(&app.jobs())
        .add::<OrderWorkflowJob>()
        .start()
        .await
        .unwrap();
    eventually("the order to be paid", Duration::from_secs(30), || async {
        (order_of(&app, order.id).await.status.as_str() == "paid").then_some(())
    })
    .await;
    workers.stop().await;
    assert_eq!(gateway.calls.load(Ordering::SeqCst), 3);
    assert_eq!(stock_of(&app, item.id).await, 2);
}

#[tokio::test]
async fn the_sweep_requeues_orders_whose_jobs_were_lost() {
    let app = boot(1.0).await;
    let db = &app.ctx().db;
    let item = seed::product(db, "SKU-F", 1_000, 10).await;
    let cust = seed::customer(db, "CUST-007", None).await;
    let lost_pending = seed::order(db, "ORD-LOST-1", &cust, &[(&item, 1)]).await;
    let lost_reserved = seed::order(db, "ORD-LOST-2", &cust, &[(&item, 1)]).await;
    // A worker died after reserving, and Redis lost the job.
    orders_flow::models::workflow::batch::reserve_many(db, &[lost_reserved.id], false)
        .await
        .unwrap();

    let report = recovery::sweep(&app.jobs(), Duration::ZERO).await.unwrap();
    assert_eq!(report.orders_requeued, 2);
    let workflow = app.services().queue::<OrderWorkflowJob>();
    assert_eq!(workflow.counts().await.unwrap().pending, 2);
    // With jobs waiting, nothing is queued twice.
    assert_eq!(
        recovery::sweep(&app.jobs(), Duration::ZERO)
            .await
            .unwrap()
            .orders_requeued,
        0
    );

    let workers = worker_set(&app.jobs())
        .add::<OrderWorkflowJob>()
        .start()
        .await
        .unwrap();
    eventually(
        "both orders to be paid",
        Duration::from_secs(30),
        || async {
            let paid = count::<orders::Entity>(&app, orders::Column::Status.eq("paid")).await;
            (paid == 2).then_some(())
        },
    )
    .await;
    workers.stop().await;
    assert_eq!(
        stock_of(&app, item.id).await,
        8,
        "the reserved order was not reserved twice"
    );
    assert_eq!(
        effects(&app, lost_pending.id).await,
        ("paid".to_string(), 1, 1, 1)
    );
}

/// Approves even order ids, declines odd ones.
struct EvenApproves;

#[async_trait]
impl PaymentGateway for EvenApproves {
    fn name(&self) -> &'static str {
        "even"
    }

    async fn charge(&self, charge: &Charge) -> Result<ChargeOutcome, GatewayError> {
        Ok(if charge.order_id % 2 == 0 {
            ChargeOutcome::Approved {
                reference: format!("even-{}", charge.order_id),
            }
        } else {
            ChargeOutcome::Declined {
                reason: "odd".into(),
            }
        })
    }
}

#[tokio::test]
async fn a_batch_keeps_every_order_rule_and_runs_duplicates_once() {
    let app = boot(1.0).await;
    let db = &app.ctx().db;
    let plenty = seed::product(db, "SKU-BATCH", 1_000, 1_000).await;
    let scarce = seed::product(db, "SKU-SCARCE", 500, 3).await;
    let cust = seed::customer(db, "CUST-BATCH", None).await;
    let mut orders = Vec::new();
    for n in 0..40 {
        let lines: &[(&products::Model, i64)] = if n % 5 == 0 {
            &[(&plenty, 1), (&scarce, 1)]
        } else {
            &[(&plenty, 2)]
        };
        orders.push(seed::order(db, &format!("ORD-B{n}"), &cust, lines).await);
    }
    let services = Services {
        gateway: Arc::new(EvenApproves),
        ..app.services()
    };
    app.ctx().shared_store.insert(services.clone());
    // Every order submitted three times at once: one batch, duplicates included.
    let cx = app.jobs();
    let submits = orders
        .iter()
        .flat_map(|o| std::iter::repeat_n(o.id, 3))
        .map(|id| {
            let cx = Arc::clone(&cx);
            tokio::spawn(async move { order_workflow::batcher::submit(&cx, id).await })
        });
    for done in futures::future::join_all(submits).await {
        done.unwrap().unwrap();
    }
    let mut sold_plenty = 0;
    let mut sold_scarce = 0;
    for order in &orders {
        let (status, payments, notes, events) = effects(&app, order.id).await;
        assert_eq!(
            (payments > 0, notes, events),
            (status == "paid", 1, 1),
            "{}",
            order.external_id
        );
        let now = order_of(&app, order.id).await;
        match (now.status.as_str(), now.failure_reason.map(|r| r.as_str())) {
            ("paid", None) => {
                assert_eq!(order.id % 2, 0);
                if order.external_id.ends_with('0') || order.external_id.ends_with('5') {
                    sold_plenty += 1;
                    sold_scarce += 1;
                } else {
                    sold_plenty += 2;
                }
            }
            ("failed", Some("payment_declined")) => assert_eq!(order.id % 2, 1),
            ("failed", Some("out_of_stock")) => assert!(order.total_cents == 1_500),
            other => panic!("{}: {other:?}", order.external_id),
        }
    }
    // Declined orders gave their stock back; only paid ones keep it.
    assert_eq!(stock_of(&app, plenty.id).await, 1_000 - sold_plenty);
    assert_eq!(stock_of(&app, scarce.id).await, 3 - sold_scarce);
    assert!(sold_scarce <= 3);

    // A batch queues its notifications as one job, not one per order; together
    // the jobs name every notification row once.
    let queue = services.queue::<NotificationJob>();
    let mut conn = services.redis.clone();
    let payloads: Vec<Vec<u8>> = redis::cmd("HVALS")
        .arg(format!("{}:data", queue.name()))
        .query_async(&mut conn)
        .await
        .unwrap();
    let jobs: Vec<NotificationJob> = payloads
        .iter()
        .map(|p| serde_json::from_slice(p).unwrap())
        .collect();
    assert!(jobs.len() < orders.len() / 4, "{} jobs", jobs.len());
    let mut queued: Vec<i64> = jobs.into_iter().flat_map(|j| j.notification_ids).collect();
    queued.sort_unstable();
    let mut rows: Vec<i64> = order_notifications::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.id)
        .collect();
    rows.sort_unstable();
    assert_eq!((queued.len(), &queued), (orders.len(), &rows));
}
