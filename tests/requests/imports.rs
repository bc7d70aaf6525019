//! `GET /api/imports/{id}`: the row, plus its orders by status now.
use orders_flow::{
    models::{
        _entities::orders,
        import::{OrderStream, StreamOptions},
        imports::{FileCounts, Model as Import},
    },
    queue::Job,
    workers::import_chunk::ImportChunkJob,
};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};

use crate::support::{imports::fixture, TestApp};

#[tokio::test]
async fn shows_an_import_and_its_orders_by_status() {
    let app = TestApp::boot().await;
    let db = &app.ctx().db;
    let path = fixture("items-format-sample.csv");
    let orders: Vec<_> = OrderStream::open(&path, StreamOptions::default())
        .unwrap()
        .flat_map(|chunk| chunk.unwrap().orders)
        .collect();
    let import = Import::create_queued(db, "items-format-sample.csv", "items")
        .await
        .unwrap();
    let counts = FileCounts {
        rows_read: 6,
        orders_read: 3,
        rows_rejected: 0,
        warnings: 0,
    };
    Import::mark_importing(db, import.id, counts, 1, None)
        .await
        .unwrap();
    ImportChunkJob {
        import_id: import.id,
        seq: 1,
        orders,
    }
    .run(&app.jobs())
    .await
    .unwrap();
    orders::Entity::update_many()
        .col_expr(orders::Column::Status, Expr::value("paid"))
        .filter(orders::Column::ExternalId.eq("ORD-100046"))
        .exec(db)
        .await
        .unwrap();

    let response = app
        .server()
        .get(&format!("/api/imports/{}", import.id))
        .authorization_bearer("test-token")
        .await;
    response.assert_status_ok();
    let body: serde_json::Value = response.json();
    insta::assert_json_snapshot!(body, {
        ".id" => "[id]",
        ".created_at" => "[timestamp]",
        ".updated_at" => "[timestamp]",
        ".finished_at" => "[timestamp]",
    });
}

#[tokio::test]
async fn an_unknown_import_is_404_and_a_bad_id_400() {
    let app = TestApp::boot().await;
    let missing = app
        .server()
        .get("/api/imports/999")
        .authorization_bearer("test-token")
        .await;
    missing.assert_status_not_found();
    insta::assert_snapshot!("unknown_import", missing.text());
    let bad = app
        .server()
        .get("/api/imports/abc")
        .authorization_bearer("test-token")
        .await;
    bad.assert_status_bad_request();
    insta::assert_snapshot!("non_numeric_id", bad.text());
}
