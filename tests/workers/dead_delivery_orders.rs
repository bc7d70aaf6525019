//! A retried dead job of the order queues does its work: an order workflow that
//! died while the gateway was down ends `paid`, and an import chunk that died
//! while the database refused its writes writes its orders.
use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use orders_flow::{
    models::{
        import::{OrderStream, ParsedOrder, StreamOptions},
        imports::{FileCounts, Model as Import},
        workflow::gateway::{Charge, ChargeOutcome, GatewayError, PaymentGateway},
    },
    queue::{Job, OrderWorkflowJob},
    workers::{
        dead::{OperatedQueue, RetryRequest},
        import_chunk::ImportChunkJob,
        Services,
    },
};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::json;

use crate::support::{
    batch_rows::reload,
    eventually,
    gateways::Repairable,
    imports::{fixture, tables},
    jobs::start_worker,
    seed, TestApp,
};

fn operated<J: Job>(app: &TestApp) -> OperatedQueue {
    OperatedQueue {
        short: J::QUEUE,
        full: app.services().queue::<J>().name().to_string(),
    }
}

async fn until_dead<J: Job>(app: &TestApp) {
    let queue = app.services().queue::<J>();
    eventually("the job to die", Duration::from_secs(30), || async {
        (queue.counts().await.unwrap().dead == 1).then_some(())
    })
    .await;
}

/// Retries every dead job of `J`'s queue, as the API and the task do.
async fn retry_all<J: Job>(app: &TestApp) {
    let mut conn = app.redis().await;
    let outcome = RetryRequest::All
        .run(&mut conn, &app.ctx().db, &operated::<J>(app))
        .await
        .unwrap();
    assert_eq!((outcome.retried, outcome.skipped), (1, 0));
}

/// Every charge times out.
struct GatewayDown;

#[async_trait]
impl PaymentGateway for GatewayDown {
    fn name(&self) -> &'static str {
        "down"
    }

    async fn charge(&self, _charge: &Charge) -> Result<ChargeOutcome, GatewayError> {
        Err(GatewayError::Timeout)
    }
}

#[tokio::test]
async fn an_order_workflow_that_died_while_the_gateway_was_down_is_paid_after_retry() {
    let app = TestApp::boot_with(|s| {
        s["payment"]["success_rate"] = json!(1.0);
        s["queues"]["workflow"] =
            json!({ "concurrency": 4, "retries": 0, "backoff_ms": 10, "timeout_secs": 5 });
    })
    .await;
    let gateway = Repairable::new(Arc::new(GatewayDown), app.services().gateway);
    app.ctx().shared_store.insert(Services {
        gateway: gateway.clone(),
        ..app.services()
    });
    let db = &app.ctx().db;
    let item = seed::product(db, "SKU-DEAD", 2_500, 5).await;
    let buyer = seed::customer(db, "CUST-DEAD", None).await;
    let order = seed::order(db, "ORD-DEAD", &buyer, &[(&item, 2)]).await;
    let workers = start_worker::<OrderWorkflowJob>(&app).await;
    app.services()
        .queue::<OrderWorkflowJob>()
        .push(&OrderWorkflowJob { order_id: order.id })
        .await
        .unwrap();
    until_dead::<OrderWorkflowJob>(&app).await;
    let status = || async { reload(db, &order).await.status.to_string() };
    let stuck = status().await;
    assert!(
        stuck == "pending" || stuck == "reserved",
        "not terminal: {stuck}"
    );

    gateway.repair();
    retry_all::<OrderWorkflowJob>(&app).await;
    eventually("the order to be paid", Duration::from_secs(30), || async {
        (status().await == "paid").then_some(())
    })
    .await;
    workers.stop().await;
    let product = orders_flow::models::_entities::products::Entity::find_by_id(item.id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(product.stock, 3, "reserved once, across both runs");
    let counts = app
        .services()
        .queue::<OrderWorkflowJob>()
        .counts()
        .await
        .unwrap();
    assert_eq!(counts.dead, 0);
}

/// The orders of the orders-format fixture (723 of them).
fn fixture_orders() -> Vec<ParsedOrder> {
    OrderStream::open(
        &fixture("orders-format-sample.csv"),
        StreamOptions::default(),
    )
    .unwrap()
    .flat_map(|chunk| chunk.unwrap().orders)
    .collect()
}

#[tokio::test]
async fn an_import_chunk_that_died_on_a_database_error_writes_its_orders_after_retry() {
    let app = TestApp::boot_with(|s| {
        s["queues"]["import"] =
            json!({ "concurrency": 1, "retries": 0, "backoff_ms": 10, "timeout_secs": 30 });
    })
    .await;
    let db = &app.ctx().db;
    let import = Import::create_queued(db, "dead.csv", "orders")
        .await
        .unwrap();
    Import::mark_importing(db, import.id, FileCounts::default(), 1, None)
        .await
        .unwrap();
    // The chunk's transaction fails at its item rows, as when the database refuses writes.
    db.execute_unprepared("ALTER TABLE order_items RENAME TO order_items_away")
        .await
        .unwrap();
    let workers = start_worker::<ImportChunkJob>(&app).await;
    app.services()
        .queue::<ImportChunkJob>()
        .push(&ImportChunkJob {
            import_id: import.id,
            seq: 1,
            orders: fixture_orders(),
        })
        .await
        .unwrap();
    until_dead::<ImportChunkJob>(&app).await;
    db.execute_unprepared("ALTER TABLE order_items_away RENAME TO order_items")
        .await
        .unwrap();
    assert_eq!(
        tables(&app).await.orders,
        0,
        "the failed chunk wrote nothing"
    );

    retry_all::<ImportChunkJob>(&app).await;
    let import = eventually(
        "the chunk to be written",
        Duration::from_secs(60),
        || async {
            Import::find_by_id(db, import.id)
                .await
                .unwrap()
                .filter(|i| i.chunks_done == 1)
        },
    )
    .await;
    workers.stop().await;
    assert_eq!(
        (import.state.as_str(), import.orders_created),
        ("done", 723)
    );
    let written = tables(&app).await;
    assert_eq!((written.orders, written.items), (723, 723));
    let workflow = app
        .services()
        .queue::<OrderWorkflowJob>()
        .counts()
        .await
        .unwrap();
    assert_eq!(
        workflow.pending, 723,
        "every written order entered the workflow"
    );
}
