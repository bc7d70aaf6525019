//! The console's views in a real browser: each renders, shows a number that
//! matches the database or Redis, and stays live without reloading.
use std::time::Duration;

use orders_flow::{
    models::{_entities::orders, imports::Model as Import, kpi::store, statuses::OrderStatus},
    queue::{worker_info, Job, NotificationJob},
    workers::{
        dead::{self, OperatedQueue},
        Services,
    },
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};

use crate::support::{
    browser::{Browser, LiveApp},
    dead_jobs::app_with_a_dead_notification,
    eventually,
    imports::{fixture, import_workers, imports, run_task, success},
    shop, TestApp,
};

async fn import_row(app: &TestApp) -> Import {
    let [import] = imports(app).await.try_into().expect("one import");
    import
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_moves_on_the_imports_page_and_its_workers_show() {
    let app = TestApp::boot().await;
    let file = fixture("orders-format-sample.csv");
    // No worker yet: every chunk waits in the queue.
    success(
        &run_task(
            &app,
            &[
                "orders_import",
                &format!("file={}", file.display()),
                "chunk_size=100",
                "wait=false",
            ],
        )
        .await,
    );
    let queued = import_row(&app).await;
    assert_eq!((queued.chunks_done, queued.chunks_total), (0, 8));

    let live = LiveApp::serve(&app).await;
    let browser = Browser::start().await;
    browser.log_in(&live, "test-token").await;
    browser.find("form.session").await;
    browser.goto(&live.url("/dashboard/imports")).await;
    let row = format!("tr[data-import='{}']", queued.id);
    let chunks = format!("{row} td[data-field=chunks]");
    assert_eq!(browser.text(&chunks).await.as_deref(), Some("0 of 8"));
    assert_eq!(
        browser.text(&format!("{row} td[data-field=state]")).await,
        Some(queued.state.to_string())
    );
    assert_eq!(
        browser.text(&format!("{row} td[data-field=rows]")).await,
        Some(queued.rows_read.to_string())
    );
    browser.mark_page().await;

    // Workers start: the same page, never reloaded, follows the chunks.
    let workers = import_workers(&app).await;
    browser
        .wait_for_text(&chunks, "every chunk committed", |t| t == "8 of 8")
        .await;
    browser
        .wait_for_text(&format!("{row} td[data-field=state]"), "done", |t| {
            t == "done"
        })
        .await;
    assert!(browser.same_page().await, "updated in place, not reloaded");
    let done = import_row(&app).await;
    assert_eq!((done.chunks_done, done.state.as_str()), (8, "done"));
    assert_eq!(
        browser.text(&format!("{row} td[data-field=created]")).await,
        Some(done.orders_created.to_string())
    );
    browser.screenshot("console-imports").await;

    // This process's worker set published itself.
    browser.goto(&live.url("/dashboard/workers")).await;
    let services: Services = app.services();
    let mut conn = services.redis.clone();
    let listed = worker_info::read_all(&mut conn, &app.prefix).await.unwrap();
    let mine = listed
        .iter()
        .find(|w| w.pid == std::process::id())
        .expect("this process's workers are listed");
    let cell = format!("tr[data-instance='{}'] td[data-field=pid]", mine.instance);
    assert_eq!(
        browser.text(&cell).await,
        Some(std::process::id().to_string())
    );
    assert_eq!(
        browser.text("#live-workers").await,
        Some(listed.len().to_string()),
        "every listed process beat just now"
    );
    let queues = browser
        .text(&format!("tr[data-instance='{}'] td.text", mine.instance))
        .await
        .unwrap();
    assert!(queues.contains("orders:import ×"), "{queues}");
    browser.screenshot("console-workers").await;
    browser.close().await;
    workers.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_finds_a_stuck_order_and_why_a_job_died_and_discards_it() {
    let (_sink, app, id) = app_with_a_dead_notification().await;
    // One order the workflow lost an hour ago, one that is merely new.
    let customer = shop::customer(&app, "C-STUCK", None).await;
    let stuck = shop::order(
        &app,
        "O-STUCK/1",
        &customer,
        OrderStatus::Reserved,
        4_200,
        None,
    )
    .await;
    let mut older: orders::ActiveModel = stuck.clone().into();
    older.updated_at = Set(chrono::Utc::now().naive_utc() - chrono::Duration::minutes(61));
    older.update(&app.ctx().db).await.unwrap();
    shop::order(&app, "O-NEW", &customer, OrderStatus::Pending, 100, None).await;
    let (count, _) = orders::Entity::stuck(
        &app.ctx().db,
        chrono::Utc::now().naive_utc() - chrono::Duration::minutes(60),
        10,
    )
    .await
    .unwrap();
    assert_eq!(count, 1);

    let live = LiveApp::serve(&app).await;
    let browser = Browser::start().await;
    browser.log_in(&live, "test-token").await;
    browser.find("form.session").await;

    browser.goto(&live.url("/dashboard/stuck")).await;
    browser.find("#minutes").await.clear().await.unwrap();
    browser
        .find("#minutes")
        .await
        .send_keys("60")
        .await
        .unwrap();
    browser
        .find("form.search button")
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_for_text("#stuck-count", "the stuck count", |t| {
            t == count.to_string()
        })
        .await;
    assert_eq!(browser.path().await, "/dashboard/stuck?minutes=60");
    assert!(browser.text("tr[data-order='O-NEW']").await.is_none());
    let row = browser.text("tr[data-order='O-STUCK/1']").await.unwrap();
    assert!(
        row.contains("reserved") && row.contains("42.00 EUR"),
        "{row}"
    );
    browser.screenshot("console-stuck").await;
    // Its link searches the dead jobs by the order's id (escaped in the URL).
    browser
        .find("tr[data-order='O-STUCK/1'] a[href^='/dashboard/dead']")
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_for_text("#dead-shown", "the search", |t| t == "0")
        .await;
    assert_eq!(browser.path().await, "/dashboard/dead?order=O-STUCK%2F1");

    // The dead notification's order, searched from the form.
    browser.find("#order").await.clear().await.unwrap();
    browser
        .find("#order")
        .await
        .send_keys("O-DEAD")
        .await
        .unwrap();
    browser
        .find("form.search button")
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_for_text("#dead-shown", "one dead job", |t| t == "1")
        .await;
    let queue = OperatedQueue {
        short: NotificationJob::QUEUE,
        full: app.services().queue::<NotificationJob>().name().to_string(),
    };
    let mut conn = app.redis().await;
    let job = dead::one(&mut conn, &queue, &id).await.unwrap().unwrap();
    let error = job.last_error.clone().expect("an error");
    let shown = browser
        .text(&format!("tr[data-job='{id}'] td.error pre"))
        .await
        .unwrap();
    assert_eq!(shown, error.trim(), "the whole error");
    browser.screenshot("console-dead").await;

    browser
        .find(&format!("tr[data-job='{id}'] a"))
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_for_text("#job-status", "the job page", |t| t.starts_with("dead"))
        .await;
    browser.screenshot("console-job").await;
    browser
        .find(&format!("button[data-action=discard][data-id='{id}']"))
        .await
        .click()
        .await
        .unwrap();
    browser.accept_dialog().await;
    browser
        .wait_for_text("#action-result", "the discard", |t| t == "discarded: 1")
        .await;
    eventually("the dead set empty", Duration::from_secs(10), || async {
        let counts = app
            .services()
            .queue::<NotificationJob>()
            .counts()
            .await
            .unwrap();
        (counts.dead == 0).then_some(())
    })
    .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kpi_page_draws_ninety_days_with_a_negative_one() {
    let app = TestApp::boot().await;
    let today = chrono::Utc::now().date_naive();
    let day = |back: u64| {
        (today - chrono::Days::new(back))
            .format("%Y-%m-%d")
            .to_string()
    };
    let mut conn = app.redis().await;
    let () = redis::pipe()
        .hset_multiple(
            store::day_key(&app.prefix, &day(0)),
            &[("revenue_cents", 154_848_i64), ("order_count", 2)],
        )
        .ignore()
        .hset_multiple(
            store::day_key(&app.prefix, &day(3)),
            &[("revenue_cents", -5_000_i64), ("refund_count", 1)],
        )
        .ignore()
        .query_async(&mut conn)
        .await
        .unwrap();
    let live = LiveApp::serve(&app).await;
    let browser = Browser::start().await;
    browser.log_in(&live, "test-token").await;
    browser.find("form.session").await;
    browser.goto(&live.url("/dashboard/kpis?days=90")).await;
    browser.find("svg.chart").await;
    let first_row = browser.text("#live table tr:nth-child(2)").await.unwrap();
    assert!(
        first_row.starts_with(&day(0)) && first_row.contains("1548.48"),
        "{first_row}"
    );
    let negative = browser
        .client
        .find_all(fantoccini::Locator::Css("svg.chart rect.neg"))
        .await
        .unwrap();
    assert_eq!(
        negative.len(),
        1,
        "the refund-only day, on the revenue chart"
    );
    // Every bar inside the chart's box at 90 days.
    let fits: bool = browser
        .client
        .execute(
            "return [...document.querySelectorAll('svg.chart')].every(svg => {
               const box = svg.getBoundingClientRect();
               return [...svg.querySelectorAll('rect')].every(r => {
                 const b = r.getBoundingClientRect();
                 return b.left >= box.left && b.right <= box.right + 0.5;
               });
             });",
            vec![],
        )
        .await
        .unwrap()
        .as_bool()
        .unwrap();
    assert!(fits, "bars drawn inside the chart");
    browser.screenshot("console-kpis").await;
    browser.close().await;
}
