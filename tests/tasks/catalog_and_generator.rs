//! `products_import` sets stock; `orders_generate` is reproducible through the task.
use orders_flow::models::products::Model as Product;

use crate::support::{
    imports::{fixture, import_workers, imports, run_task, stderr, success, tables, Scratch},
    TestApp,
};

#[tokio::test]
async fn products_import_sets_stock_name_and_price_and_rejects_bad_rows() {
    let app = TestApp::boot().await;
    let workers = import_workers(&app).await;
    let items = fixture("items-format-sample.csv");
    success(
        &run_task(
            &app,
            &["orders_import", &format!("file={}", items.display())],
        )
        .await,
    );
    workers.stop().await;
    let scratch = Scratch::new();
    let file = scratch.file(
        "catalog.csv",
        "\u{feff}SKU , Name,Price_Cents,STOCK\n\
         SKU-PS5-SLIM,PlayStation 5 Slim (2025),45900,3\n\
         SKU-NEW,Brand New,500,0\n\
         SKU-BAD,Bad,12.5,1\n\
         SKU-NEG,Negative,100,-4\n\
         SKU-NEW,Brand New Again,600,9\n",
    );
    let out = run_task(&app, &["products_import", &format!("file={file}")]).await;
    let stdout = success(&out);
    for line in [
        "rows read          5",
        "products created   1",
        "products updated   1",
        "rows rejected      3",
    ] {
        assert!(stdout.contains(line), "missing `{line}` in:\n{stdout}");
    }
    let db = &app.ctx().db;
    let ps5 = Product::find_by_sku(db, "SKU-PS5-SLIM")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (ps5.stock, ps5.price_cents, ps5.name.as_str()),
        (3, 45_900, "PlayStation 5 Slim (2025)"),
        "stock set explicitly, not added"
    );
    let new = Product::find_by_sku(db, "SKU-NEW").await.unwrap().unwrap();
    assert_eq!((new.stock, new.price_cents), (0, 500));
    assert!(Product::find_by_sku(db, "SKU-BAD").await.unwrap().is_none());
    let rejects = std::fs::read_to_string(format!("{file}.rejects.csv")).unwrap();
    let reasons: Vec<&str> = rejects.lines().skip(1).collect();
    assert_eq!(
        reasons,
        [
            "4,price_cents,price_cents `12.5`: amount must be a whole number of cents,\"SKU-BAD,Bad,12.5,1\"",
            "5,stock,stock must not be negative,\"SKU-NEG,Negative,100,-4\"",
            "6,sku,duplicate sku SKU-NEW (first seen at line 3),\"SKU-NEW,Brand New Again,600,9\"",
        ]
    );
    let missing = scratch.file("no-stock.csv", "sku,name,price_cents\nA,A,1\n");
    let out = run_task(&app, &["products_import", &format!("file={missing}")]).await;
    assert!(!out.status.success());
    assert_eq!(
        stderr(&out).trim(),
        "error: header is missing required column(s) for a products file: stock (expected sku,name,price_cents,stock)"
    );
    assert_eq!(tables(&app).await.products, 7);
}

#[tokio::test]
async fn the_generator_is_deterministic_through_the_task_and_its_files_import() {
    let app = TestApp::boot().await;
    let scratch = Scratch::new();
    let generate = |name: &str, seed: &str, format: &str| {
        vec![
            "orders_generate".to_owned(),
            format!("file={}", scratch.path(name)),
            "orders=1500".to_owned(),
            format!("seed={seed}"),
            format!("format={format}"),
            "customers=200".to_owned(),
            "products=300".to_owned(),
        ]
    };
    for (name, seed, format) in [
        ("a.csv", "7", "items"),
        ("b.csv", "7", "items"),
        ("c.csv", "8", "items"),
        ("d.csv", "7", "orders"),
    ] {
        let args = generate(name, seed, format);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let stdout = success(&run_task(&app, &args).await);
        assert!(stdout.contains("orders   1500"), "{stdout}");
        assert!(stdout.contains("bytes    "), "{stdout}");
        assert!(stdout.contains("elapsed  "), "{stdout}");
    }
    let read = |name: &str| std::fs::read(scratch.path(name)).unwrap();
    assert_eq!(read("a.csv"), read("b.csv"), "same seed, same bytes");
    assert_ne!(read("a.csv"), read("c.csv"));

    let workers = import_workers(&app).await;
    for name in ["a.csv", "d.csv"] {
        let file = format!("file={}", scratch.path(name));
        success(&run_task(&app, &["orders_import", &file, "chunk_size=200"]).await);
    }
    workers.stop().await;
    let [items, orders] = imports(&app).await.try_into().unwrap();
    assert_eq!(
        (
            items.state.as_str(),
            items.orders_created,
            items.rows_rejected
        ),
        ("done", 1500, 0)
    );
    assert_eq!((items.chunks_total, items.total_warnings), (8, 0));
    // Same seed in the other format: same order ids, all duplicates.
    assert_eq!(
        (orders.orders_created, orders.duplicates_skipped),
        (0, 1500)
    );
}

#[tokio::test]
async fn generator_arguments_are_checked() {
    let app = TestApp::boot().await;
    let out = run_task(&app, &["orders_generate", "file=/tmp/x.csv"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("missing argument `orders`"),
        "{}",
        stderr(&out)
    );
    let out = run_task(
        &app,
        &[
            "orders_generate",
            "file=/tmp/x.csv",
            "orders=5",
            "format=xml",
        ],
    )
    .await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unknown format `xml`"),
        "{}",
        stderr(&out)
    );
}
