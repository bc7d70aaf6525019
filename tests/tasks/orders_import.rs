//! `orders_import` as an operator runs it: a real process, real chunk workers.
use orders_flow::models::_entities::{customers, orders, products};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::support::{
    imports::{
        done, fixture, import_workers, imports, run_task, stderr, success, tables, workflow_jobs,
        Scratch, Tables,
    },
    TestApp,
};

const ITEMS_HEADER: &str = "external_order_id,order_placed_at,currency,customer_id,customer_email,customer_name,product_sku,product_name,unit_price_cents,qty";

async fn total_cents(app: &TestApp) -> i64 {
    let totals: Vec<i64> = orders::Entity::find()
        .select_only()
        .column(orders::Column::TotalCents)
        .into_tuple()
        .all(&app.ctx().db)
        .await
        .unwrap();
    totals.iter().sum()
}

async fn order(app: &TestApp, external_id: &str) -> orders::Model {
    orders::Entity::find()
        .filter(orders::Column::ExternalId.eq(external_id))
        .one(&app.ctx().db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("order {external_id} missing"))
}

#[tokio::test]
async fn orders_fixture_imports_with_its_counts_totals_and_warnings() {
    let app = TestApp::boot().await;
    let workers = import_workers(&app).await;
    let file = fixture("orders-format-sample.csv");
    let out = run_task(
        &app,
        &[
            "orders_import",
            &format!("file={}", file.display()),
            "chunk_size=100",
        ],
    )
    .await;
    workers.stop().await;
    let stdout = success(&out);

    let [import] = imports(&app).await.try_into().unwrap();
    assert_eq!(
        import.state.as_str(),
        "done",
        "wait=true returns once written"
    );
    assert_eq!(
        (import.rows_read, import.orders_read, import.rows_rejected),
        (723, 723, 0)
    );
    assert_eq!((import.chunks_total, import.chunks_done), (8, 8));
    assert_eq!((import.orders_created, import.duplicates_skipped), (723, 0));
    assert_eq!(import.total_warnings, 8);
    assert_eq!(import.format.as_deref(), Some("orders"));
    assert!(import.finished_at.is_some());
    assert_eq!(import.rejects_path, None);

    assert_eq!(tables(&app).await.orders, 723);
    assert_eq!(total_cents(&app).await, 11_384_725);
    // Declared 199.99, items 2 x 99.99: the items win.
    let mouse = order(&app, "ORD-2025-002").await;
    assert_eq!(
        (mouse.total_cents, mouse.status.as_str()),
        (19_998, "pending")
    );
    assert_eq!(
        (mouse.currency.as_str(), mouse.import_id),
        ("EUR", Some(import.id))
    );
    assert_eq!(
        workflow_jobs(&app).await,
        723,
        "one workflow job per new order"
    );

    for line in [
        "rows read           723",
        "orders queued       723 (new orders sent to the workflow)",
        "duplicates skipped  0",
        "rows rejected       0",
        "warnings            8 (8 declared totals differ from their items; the items win)",
        "parsed in ",
        "read and queued in ",
        "rows/s",
        "rejects             none",
        "warning: line 3: order ORD-2025-002 declares total 199.99 but its items sum to 199.98 (items win)",
    ] {
        assert!(stdout.contains(line), "missing `{line}` in:\n{stdout}");
    }
    assert!(
        !stderr(&out).contains('\u{1b}'),
        "no progress bar off a terminal"
    );
}

#[tokio::test]
async fn items_fixture_imports_customers_products_orders_and_items() {
    let app = TestApp::boot().await;
    let workers = import_workers(&app).await;
    let file = fixture("items-format-sample.csv");
    let out = run_task(
        &app,
        &["orders_import", &format!("file={}", file.display())],
    )
    .await;
    workers.stop().await;
    success(&out);

    let [import] = imports(&app).await.try_into().unwrap();
    assert_eq!(
        (
            import.state.as_str(),
            import.rows_read,
            import.orders_created
        ),
        ("done", 6, 3)
    );
    assert_eq!(
        tables(&app).await,
        Tables {
            customers: 3,
            products: 6,
            orders: 3,
            items: 6
        }
    );
    let first = order(&app, "ORD-100045").await;
    assert_eq!(first.total_cents, 109_900 + 3 * 1_998);
    assert_eq!(
        first.placed_at.map(|at| at.to_utc().to_rfc3339()),
        Some("2025-10-27T16:12:00+00:00".to_owned())
    );
    assert_eq!(
        order(&app, "ORD-100047").await.total_cents,
        3_999 + 8_999 + 2 * 1_299
    );
    let jane = customers::Entity::find()
        .filter(customers::Column::ExternalId.eq("CUST-001"))
        .one(&app.ctx().db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (jane.email.as_deref(), jane.name.as_deref()),
        (Some("jane@example.com"), Some("Jane Doe"))
    );
    let catalog: Vec<(String, i64, i64)> = products::Entity::find()
        .select_only()
        .columns([
            products::Column::Sku,
            products::Column::PriceCents,
            products::Column::Stock,
        ])
        .order_by_asc(products::Column::Sku)
        .into_tuple()
        .all(&app.ctx().db)
        .await
        .unwrap();
    assert_eq!(catalog[0], ("SKU-BOOK-ML-101".to_owned(), 3_999, 100));
    assert!(
        catalog.iter().all(|(_, _, stock)| *stock == 100),
        "settings.stock.initial"
    );
    assert_eq!(workflow_jobs(&app).await, 3);
}

#[tokio::test]
async fn each_malformed_row_is_rejected_with_its_line_and_an_order_with_one_is_rejected_whole() {
    let app = TestApp::boot().await;
    let scratch = Scratch::new();
    let file = scratch.file(
        "mixed.csv",
        &format!(
            "{ITEMS_HEADER}
A,2025-10-27 16:12:00,EUR,C1,a@x.io,Ann,SKU-1,One,100,1
A,2025-10-27 16:12:00,EUR,C1,a@x.io,Ann,SKU-2,Two,250
,2025-10-27 16:12:00,EUR,C1,a@x.io,Ann,SKU-1,One,100,1
B,2025-10-27 16:12:00,EUR,C2,b@x.io,Bob,SKU-1,One,100,0
B,2025-10-27 16:12:00,EUR,C2,b@x.io,Bob,SKU-1,One,-100,1
B,27/10/2025,EUR,C2,b@x.io,Bob,SKU-1,One,100,1
B,2025-10-27 16:12:00,EUR,C2,b@x.io,Bob,SKU-1,One,1.5,1
B,2025-10-27 16:12:00,EUR,C2,b@x.io,Bob,SKU-1,One,abc,1
A,2025-10-27 16:13:00,USD,C1,a@x.io,Ann,SKU-2,Two,250,1
B,2025-10-27 16:12:00,EUR,C2,b@x.io,Bob,SKU-3,Three,300,2
C,2025-10-27 16:12:00,EUR,C3,c@x.io,Cy,SKU-1,One,100,3
"
        ),
    );
    let json = scratch.file(
        "json.csv",
        r#"order_id,customer_id,total,items
O1,1,10.00,"[{""product"":""Pen"",""qty"":2,""price"":5}]"
O2,1,1.00,"[{""product"":""Pen"",""qty"":1,""price"":1"
O3,1,1.00,"[{""product"":""Pen"",""qty"":1,""price"":1.005}]"
"#,
    );
    let out = run_task(
        &app,
        &["orders_import", &format!("file={file}"), "wait=false"],
    )
    .await;
    let stdout = success(&out);
    let rejects_path = format!("{file}.rejects.csv");
    assert!(
        stdout.contains(&format!("rejects             {rejects_path}")),
        "{stdout}"
    );
    let rejects = std::fs::read_to_string(&rejects_path).unwrap();
    let lines: Vec<&str> = rejects.lines().collect();
    assert_eq!(
        lines,
        [
            "line,column,reason,raw",
            "2,row,\"order A is rejected whole: its row at line 3 is bad (expected 10 cells, found 9)\",\"A,2025-10-27 16:12:00,EUR,C1,a@x.io,Ann,SKU-1,One,100,1\"",
            "3,row,\"expected 10 cells, found 9\",\"A,2025-10-27 16:12:00,EUR,C1,a@x.io,Ann,SKU-2,Two,250\"",
            "4,external_order_id,external_order_id is empty,\",2025-10-27 16:12:00,EUR,C1,a@x.io,Ann,SKU-1,One,100,1\"",
            "5,qty,qty must be at least 1,\"B,2025-10-27 16:12:00,EUR,C2,b@x.io,Bob,SKU-1,One,100,0\"",
            "6,unit_price_cents,unit_price_cents `-100`: amount is negative,\"B,2025-10-27 16:12:00,EUR,C2,b@x.io,Bob,SKU-1,One,-100,1\"",
            "7,order_placed_at,order_placed_at `27/10/2025` is not a date (expected YYYY-MM-DD HH:MM:SS or RFC 3339),\"B,27/10/2025,EUR,C2,b@x.io,Bob,SKU-1,One,100,1\"",
            "8,unit_price_cents,unit_price_cents `1.5`: amount must be a whole number of cents,\"B,2025-10-27 16:12:00,EUR,C2,b@x.io,Bob,SKU-1,One,1.5,1\"",
            "9,unit_price_cents,unit_price_cents `abc`: amount is not a number,\"B,2025-10-27 16:12:00,EUR,C2,b@x.io,Bob,SKU-1,One,abc,1\"",
            "10,row,\"order A is rejected whole: its row at line 3 is bad (expected 10 cells, found 9)\",\"A,2025-10-27 16:13:00,USD,C1,a@x.io,Ann,SKU-2,Two,250,1\"",
            "11,row,order B is rejected whole: its row at line 5 is bad (qty must be at least 1),\"B,2025-10-27 16:12:00,EUR,C2,b@x.io,Bob,SKU-3,Three,300,2\"",
        ]
    );
    let out = run_task(
        &app,
        &["orders_import", &format!("file={json}"), "wait=false"],
    )
    .await;
    success(&out);
    let json_rejects = std::fs::read_to_string(format!("{json}.rejects.csv")).unwrap();
    let json_lines: Vec<(&str, &str)> = json_rejects
        .lines()
        .skip(1)
        .map(|l| {
            let mut cells = l.splitn(3, ',');
            (cells.next().unwrap(), cells.next().unwrap())
        })
        .collect();
    assert_eq!(json_lines, [("3", "items"), ("4", "items[0].price")]);
    assert!(
        json_rejects.contains("items is not valid JSON"),
        "{json_rejects}"
    );
    assert!(
        json_rejects.contains("more than 2 decimals"),
        "{json_rejects}"
    );

    let workers = import_workers(&app).await;
    let [first, second] = imports(&app).await.try_into().unwrap();
    let first = done(&app, first.id).await;
    let second = done(&app, second.id).await;
    workers.stop().await;
    assert_eq!(
        (first.rows_read, first.rows_rejected, first.orders_created),
        (11, 10, 1)
    );
    assert_eq!(first.rejects_path.as_deref(), Some(rejects_path.as_str()));
    assert_eq!(
        (
            second.rows_read,
            second.rows_rejected,
            second.orders_created
        ),
        (3, 2, 1)
    );
    // Never a partial order: A and B are nowhere, C is whole.
    let partial = orders::Entity::find()
        .filter(orders::Column::ExternalId.is_in(["A", "B"]))
        .all(&app.ctx().db)
        .await
        .unwrap();
    assert!(partial.is_empty(), "{partial:?}");
    assert_eq!(order(&app, "C").await.total_cents, 300);
    assert_eq!(order(&app, "O1").await.total_cents, 1_000);
}

#[tokio::test]
async fn a_missing_column_or_file_exits_non_zero_and_imports_nothing() {
    let app = TestApp::boot().await;
    let scratch = Scratch::new();
    let no_total = scratch.file(
        "no-total.csv",
        "order_id,customer_id,items\nO1,1,\"[{\"\"product\"\":\"\"Pen\"\",\"\"qty\"\":1,\"\"price\"\":1}]\"\n",
    );
    let out = run_task(&app, &["orders_import", &format!("file={no_total}")]).await;
    assert!(!out.status.success());
    assert_eq!(
        stderr(&out).trim(),
        "error: header is missing required column(s) for the orders format: total"
    );
    let missing = scratch.path("nowhere.csv");
    let out = run_task(&app, &["orders_import", &format!("file={missing}")]).await;
    assert!(!out.status.success());
    let message = stderr(&out);
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    assert!(
        message.starts_with(&format!("error: cannot open {missing}")),
        "{message}"
    );
    let out = run_task(
        &app,
        &["orders_import", &format!("file={}", scratch.0.display())],
    )
    .await;
    assert!(!out.status.success(), "a directory is not a file");

    assert!(imports(&app).await.is_empty(), "no imports row");
    assert_eq!(tables(&app).await.orders, 0);
    assert!(!std::path::Path::new(&format!("{no_total}.rejects.csv")).exists());
    assert_eq!(workflow_jobs(&app).await, 0);
}

#[tokio::test]
async fn importing_the_same_file_twice_creates_nothing_new_and_queues_no_second_workflow() {
    let app = TestApp::boot().await;
    let workers = import_workers(&app).await;
    let file = format!("file={}", fixture("orders-format-sample.csv").display());
    success(&run_task(&app, &["orders_import", &file, "chunk_size=250"]).await);
    let before = tables(&app).await;
    let out = run_task(&app, &["orders_import", &file, "chunk_size=250"]).await;
    workers.stop().await;
    let stdout = success(&out);
    assert!(stdout.contains("orders queued       0 "), "{stdout}");
    assert!(stdout.contains("duplicates skipped  723"), "{stdout}");
    let [first, second] = imports(&app).await.try_into().unwrap();
    assert_eq!((first.orders_created, first.duplicates_skipped), (723, 0));
    assert_eq!(
        (
            second.state.as_str(),
            second.orders_created,
            second.duplicates_skipped
        ),
        ("done", 0, 723)
    );
    assert_eq!(tables(&app).await, before);
    assert_eq!(workflow_jobs(&app).await, 723, "no second workflow job");
}

#[tokio::test]
async fn new_products_get_the_initial_stock_and_a_reimport_never_resets_it() {
    let app = TestApp::boot().await;
    let workers = import_workers(&app).await;
    success(
        &run_task(
            &app,
            &[
                "orders_import",
                &format!("file={}", fixture("items-format-sample.csv").display()),
            ],
        )
        .await,
    );
    // As if the workflow had reserved stock, and the shop had repriced.
    let db = &app.ctx().db;
    products::Entity::update_many()
        .col_expr(products::Column::Stock, sea_orm::sea_query::Expr::value(7))
        .col_expr(
            products::Column::PriceCents,
            sea_orm::sea_query::Expr::value(99_000),
        )
        .filter(products::Column::Sku.eq("SKU-PS5-SLIM"))
        .exec(db)
        .await
        .unwrap();
    let scratch = Scratch::new();
    let again = scratch.file(
        "again.csv",
        &format!(
            "{ITEMS_HEADER}
NEW-1,2025-11-01 10:00:00,EUR,CUST-002,john@example.com,John Smith,SKU-PS5-SLIM,PlayStation 5 Slim,45000,1
NEW-1,2025-11-01 10:00:00,EUR,CUST-002,john@example.com,John Smith,SKU-NEW,Brand New,500,2
"
        ),
    );
    success(&run_task(&app, &["orders_import", &format!("file={again}")]).await);
    workers.stop().await;
    let ps5 = orders_flow::models::products::Model::find_by_sku(db, "SKU-PS5-SLIM")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (ps5.stock, ps5.price_cents),
        (7, 99_000),
        "never reset by an import"
    );
    let new = orders_flow::models::products::Model::find_by_sku(db, "SKU-NEW")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (new.stock, new.price_cents, new.name.as_str()),
        (100, 500, "Brand New")
    );
    // The order keeps the price it was placed at.
    assert_eq!(order(&app, "NEW-1").await.total_cents, 45_000 + 2 * 500);
}

#[tokio::test]
async fn without_waiting_the_task_returns_and_workers_finish_the_import_later() {
    let app = TestApp::boot().await;
    let file = format!("file={}", fixture("orders-format-sample.csv").display());
    let out = run_task(
        &app,
        &["orders_import", &file, "chunk_size=50", "wait=false"],
    )
    .await;
    let stdout = success(&out);
    let [import] = imports(&app).await.try_into().unwrap();
    assert_eq!(
        (
            import.state.as_str(),
            import.chunks_total,
            import.chunks_done
        ),
        ("importing", 15, 0)
    );
    assert!(
        stdout.contains(&format!("follow it: GET /api/imports/{}", import.id)),
        "{stdout}"
    );
    assert!(stdout.contains("orders queued       0 so far"), "{stdout}");

    // wait=true with nobody consuming the queue says so instead of hanging,
    // and does not call that a success.
    let out = run_task(&app, &["orders_import", &file, "chunk_size=50"]).await;
    assert!(!out.status.success());
    let message = stderr(&out);
    assert!(
        message.contains("no worker is consuming the import queue"),
        "{message}"
    );

    let workers = import_workers(&app).await;
    let [first, second] = imports(&app).await.try_into().unwrap();
    let first = done(&app, first.id).await;
    let second = done(&app, second.id).await;
    workers.stop().await;
    assert_eq!(first.orders_created + second.orders_created, 723);
    assert_eq!(first.duplicates_skipped + second.duplicates_skipped, 723);
    assert_eq!(workflow_jobs(&app).await, 723);
}

#[tokio::test]
async fn placed_at_keeps_its_instant_to_the_microsecond_and_stays_empty_when_absent() {
    let app = TestApp::boot().await;
    let workers = import_workers(&app).await;
    let scratch = Scratch::new();
    let items = scratch.file(
        "instants.csv",
        &format!(
            "{ITEMS_HEADER}
T1,2025-10-27T18:12:00.123456+02:00,EUR,C1,a@x.io,Ann,SKU-1,One,100,1
T2,2025-12-31 23:59:59,EUR,C1,a@x.io,Ann,SKU-1,One,100,1
"
        ),
    );
    let without_time = scratch.file(
        "no-time.csv",
        r#"order_id,customer_id,total,items
N1,1,1.00,"[{""product"":""Pen"",""qty"":1,""price"":1}]"
"#,
    );
    for file in [&items, &without_time] {
        success(&run_task(&app, &["orders_import", &format!("file={}", file)]).await);
    }
    workers.stop().await;

    for (id, want) in [
        ("T1", Some("2025-10-27T16:12:00.123456Z")),
        ("T2", Some("2025-12-31T23:59:59.000000Z")),
        ("N1", None),
    ] {
        let have = order(&app, id).await.placed_at.map(|at| {
            at.to_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        });
        assert_eq!(have.as_deref(), want, "order {id}");
    }
}

/// On PostgreSQL a chunk's customers are one array per column, and an array
/// cannot hold NULL: a blank e-mail or name, next to customers that have
/// them, must still arrive as NULL, not as a stand-in.
#[tokio::test]
async fn blank_emails_and_names_are_stored_as_null_beside_filled_ones_of_the_same_chunk() {
    let app = TestApp::boot().await;
    let workers = import_workers(&app).await;
    let scratch = Scratch::new();
    let file = scratch.file(
        "blanks.csv",
        &format!(
            "{ITEMS_HEADER}
B1,2025-10-27 10:00:00,EUR,C1,both@x.io,Both,SKU-1,One,100,1
B2,2025-10-27 10:00:00,EUR,C2,,No Mail,SKU-1,One,100,1
B3,2025-10-27 10:00:00,EUR,C3,noname@x.io,,SKU-1,One,100,1
B4,2025-10-27 10:00:00,EUR,C4,,,SKU-1,One,100,1
"
        ),
    );
    success(&run_task(&app, &["orders_import", &format!("file={file}")]).await);
    workers.stop().await;

    let stored: Vec<(String, Option<String>, Option<String>)> = customers::Entity::find()
        .select_only()
        .columns([
            customers::Column::ExternalId,
            customers::Column::Email,
            customers::Column::Name,
        ])
        .order_by_asc(customers::Column::ExternalId)
        .into_tuple()
        .all(&app.ctx().db)
        .await
        .unwrap();
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(
        stored,
        vec![
            ("C1".to_owned(), some("both@x.io"), some("Both")),
            ("C2".to_owned(), None, some("No Mail")),
            ("C3".to_owned(), some("noname@x.io"), None),
            ("C4".to_owned(), None, None),
        ]
    );
}

#[tokio::test]
async fn a_paced_import_releases_its_orders_no_faster_than_the_rate() {
    let app = TestApp::boot().await;
    let workers = import_workers(&app).await;
    let file = format!("file={}", fixture("orders-format-sample.csv").display());
    // 723 orders in 8 chunks at 150 a second: the last chunk is due 4.82 s
    // after the first is read, so the run cannot end sooner. (A lower bound
    // the pacing guarantees; unpaced, the same run takes a fraction of it.
    // The chunks' own timestamps cannot tell: SQLite keeps whole seconds.)
    let started = std::time::Instant::now();
    let out = run_task(
        &app,
        &["orders_import", &file, "chunk_size=100", "rate=150"],
    )
    .await;
    let took = started.elapsed();
    success(&out);
    workers.stop().await;
    assert!(
        took >= std::time::Duration::from_millis(723 * 1000 / 150),
        "723 orders at 150 a second took {took:?}"
    );
    let [import] = imports(&app).await.try_into().unwrap();
    assert_eq!(
        (
            import.state.as_str(),
            import.orders_created,
            import.chunks_total
        ),
        ("done", 723, 8)
    );
    assert_eq!(workflow_jobs(&app).await, 723);
}

#[tokio::test]
async fn a_rate_that_is_not_a_whole_number_above_zero_is_refused_before_anything_is_read() {
    let app = TestApp::boot().await;
    let file = format!("file={}", fixture("orders-format-sample.csv").display());
    for rate in ["0", "-5", "abc", "1.5", "+10", "", "99999999999"] {
        let out = run_task(&app, &["orders_import", &file, &format!("rate={rate}")]).await;
        assert!(!out.status.success(), "rate={rate}");
        let message = stderr(&out);
        assert!(
            message.starts_with(&format!(
                "error: argument `rate` has an invalid value `{rate}`"
            )),
            "rate={rate}: {message}"
        );
    }
    assert!(imports(&app).await.is_empty(), "no imports row");
    assert_eq!(workflow_jobs(&app).await, 0);
}
