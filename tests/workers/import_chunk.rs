//! The import-chunk job: bulk writes, idempotent reruns, workflow jobs in bulk.
use orders_flow::{
    models::{
        import::{OrderStream, ParsedOrder, StreamOptions},
        imports::{FileCounts, Model as Import},
    },
    queue::{Job, JobError},
    workers::import_chunk::ImportChunkJob,
};
use sea_orm::EntityTrait;

use crate::support::{
    imports::{done, fixture, import_workers, tables, workflow_jobs, Tables},
    TestApp,
};

/// The orders of the orders-format fixture (723 of them).
fn fixture_orders() -> Vec<ParsedOrder> {
    let stream = OrderStream::open(
        &fixture("orders-format-sample.csv"),
        StreamOptions::default(),
    )
    .unwrap();
    stream.flat_map(|chunk| chunk.unwrap().orders).collect()
}

/// An import row in state `importing` expecting `chunks` chunks.
async fn importing(app: &TestApp, chunks: u64) -> Import {
    let db = &app.ctx().db;
    let import = Import::create_queued(db, "test.csv", "orders")
        .await
        .unwrap();
    Import::mark_importing(db, import.id, FileCounts::default(), chunks, None)
        .await
        .unwrap();
    Import::find_by_id(db, import.id).await.unwrap().unwrap()
}

fn job(import: &Import, seq: i64, orders: &[ParsedOrder]) -> ImportChunkJob {
    ImportChunkJob {
        import_id: import.id,
        seq,
        orders: orders.to_vec(),
    }
}

const FIXTURE_TABLES: Tables = Tables {
    customers: 5,
    products: 409,
    orders: 723,
    items: 723,
};

#[tokio::test]
async fn a_chunk_run_twice_writes_once_and_only_requeues_pending_orders() {
    let app = TestApp::boot().await;
    let orders = fixture_orders();
    let import = importing(&app, 1).await;
    let chunk = job(&import, 1, &orders);
    chunk.clone().run(&app.jobs()).await.unwrap();
    let after_first = tables(&app).await;
    assert_eq!(after_first.orders, 723);
    assert_eq!(workflow_jobs(&app).await, 723);

    chunk.clone().run(&app.jobs()).await.unwrap();
    assert_eq!(tables(&app).await, after_first, "nothing written twice");
    let import = Import::find_by_id(&app.ctx().db, import.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            import.state.as_str(),
            import.chunks_done,
            import.orders_created,
            import.duplicates_skipped
        ),
        ("done", 1, 723, 0),
        "counters moved once"
    );
    // The rerun re-queues orders still pending (the workflow is idempotent);
    // an order that moved on is not queued again.
    orders_flow::models::_entities::orders::Entity::update_many()
        .col_expr(
            orders_flow::models::_entities::orders::Column::Status,
            sea_orm::sea_query::Expr::value("paid"),
        )
        .exec(&app.ctx().db)
        .await
        .unwrap();
    chunk.run(&app.jobs()).await.unwrap();
    assert_eq!(workflow_jobs(&app).await, 2 * 723);
}

#[tokio::test]
async fn the_same_chunk_run_concurrently_is_written_once() {
    let app = TestApp::boot().await;
    let orders = fixture_orders();
    let import = importing(&app, 2).await;
    let (first, second) = (
        job(&import, 1, &orders[..400]),
        job(&import, 2, &orders[400..]),
    );
    let runs = futures::future::join_all([
        first.clone().run(&app.jobs()),
        first.clone().run(&app.jobs()),
        second.clone().run(&app.jobs()),
        second.run(&app.jobs()),
    ])
    .await;
    for run in runs {
        run.unwrap();
    }
    assert_eq!(tables(&app).await, FIXTURE_TABLES);
    let import = done(&app, import.id).await;
    assert_eq!(
        (
            import.chunks_done,
            import.orders_created,
            import.duplicates_skipped
        ),
        (2, 723, 0)
    );
    let queued = workflow_jobs(&app).await;
    assert!(
        (723..=2 * 723).contains(&queued),
        "{queued}: every new order queued"
    );
}

#[tokio::test]
async fn orders_already_imported_are_counted_as_duplicates() {
    let app = TestApp::boot().await;
    let orders = fixture_orders();
    let import = importing(&app, 2).await;
    job(&import, 1, &orders[..500])
        .run(&app.jobs())
        .await
        .unwrap();
    // Chunk 2 overlaps chunk 1 by 100 orders (and repeats one inside itself).
    let mut overlap = orders[400..].to_vec();
    overlap.push(orders[722].clone());
    job(&import, 2, &overlap).run(&app.jobs()).await.unwrap();
    let import = done(&app, import.id).await;
    assert_eq!(
        (import.orders_created, import.duplicates_skipped),
        (723, 101)
    );
    assert_eq!(tables(&app).await, FIXTURE_TABLES);
    assert_eq!(workflow_jobs(&app).await, 723);
}

#[tokio::test]
async fn a_chunk_of_an_unknown_import_fails_permanently() {
    let app = TestApp::boot().await;
    let orders = fixture_orders();
    let chunk = ImportChunkJob {
        import_id: 4_242,
        seq: 1,
        orders: orders[..3].to_vec(),
    };
    let outcome = chunk.run(&app.jobs()).await;
    assert!(
        matches!(outcome, Err(JobError::Permanent(_))),
        "{outcome:?}"
    );
    assert_eq!(tables(&app).await.orders, 0);
}

#[tokio::test]
async fn queued_chunk_jobs_are_run_by_workers_which_push_workflow_jobs_in_bulk() {
    let app = TestApp::boot().await;
    // Over apalis's ~8,000-job unpack wall and our 1,000-job push slices.
    let fixture = fixture_orders();
    let orders: Vec<ParsedOrder> = (0..9_000)
        .map(|n| {
            let mut order = fixture[n % 723].clone();
            order.external_id = format!("GEN-{n}");
            order
        })
        .collect();
    let import = importing(&app, 3).await;
    let jobs: Vec<ImportChunkJob> = orders
        .chunks(3_000)
        .enumerate()
        .map(|(n, chunk)| job(&import, n as i64 + 1, chunk))
        .collect();
    let queue = app.services().queue::<ImportChunkJob>();
    assert_eq!(queue.push_bulk(&jobs).await.unwrap(), 3);
    let workers = import_workers(&app).await;
    let import = done(&app, import.id).await;
    workers.stop().await;
    assert_eq!(import.orders_created, 9_000);
    assert_eq!(workflow_jobs(&app).await, 9_000);
    assert_eq!(tables(&app).await.orders, 9_000);
}
