//! The operators' HTML pages: the queue dashboard and the live KPI page.
use axum::http::StatusCode;
use orders_flow::{models::kpi::store, queue::NotificationJob};

use crate::support::{
    dead_jobs::dead_notification,
    jobs::start_worker,
    smtp::{app_mailing_to, SmtpSink},
    TestApp,
};

#[tokio::test]
async fn the_queue_dashboard_shows_every_queue_and_a_dead_job_to_retry() {
    let sink = SmtpSink::start().await;
    let app = app_mailing_to(&sink, 0).await;
    let workers = start_worker::<NotificationJob>(&app).await;
    let id = dead_notification(&app, &sink).await;
    let response = app
        .server()
        .get("/dashboard")
        .authorization_bearer("test-token")
        .await;
    workers.stop().await;
    response.assert_status_ok();
    assert!(response
        .header("content-type")
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = response.text();
    for queue in [
        "orders:import",
        "orders:workflow",
        "notifications",
        "refunds",
    ] {
        assert!(
            html.contains(&format!("<td>{queue}</td>")),
            "{queue} missing:\n{html}"
        );
    }
    assert!(
        html.contains(&format!("data-id=\"{id}\"")),
        "no retry button for {id}:\n{html}"
    );
    assert!(html.contains("notifications: 1 dead"), "{html}");
    assert!(
        html.contains("data-refresh-secs=") && !html.contains("http-equiv=\"refresh\""),
        "live by fetching, not by reloading:\n{html}"
    );
    assert!(
        html.contains("<script src=\"/static/console/console.js\">"),
        "{html}"
    );
    assert!(
        html.contains("KPI events waiting to reach Redis: 0."),
        "{html}"
    );
    assert!(html.contains("No canary has run yet"), "{html}");
    assert!(
        html.contains("href=\"/api/queues/notifications/dead\""),
        "{html}"
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing from a CDN"
    );
}

#[tokio::test]
async fn the_kpi_page_draws_today_from_the_figures_and_escapes_what_it_shows() {
    let app = TestApp::boot().await;
    let prefix = &app.prefix;
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let mut conn = app.redis().await;
    let () = redis::pipe()
        .hset_multiple(
            store::day_key(prefix, &today),
            &[
                ("revenue_cents", 154_848_i64),
                ("order_count", 2),
                ("failed_count", 1),
            ],
        )
        .ignore()
        .zadd(store::all_time_key(prefix), "<b>CUST-1</b>", 104_900)
        .ignore()
        .zadd(store::all_time_key(prefix), "CUST-2", 49_948)
        .ignore()
        .query_async(&mut conn)
        .await
        .unwrap();

    let response = app
        .server()
        .get("/dashboard/kpis?days=7")
        .authorization_bearer("test-token")
        .await;
    response.assert_status_ok();
    let html = response.text();
    assert_eq!(
        html.matches("<rect ").count(),
        14,
        "7 days, two charts:\n{html}"
    );
    assert!(html.contains(&format!("{today}: 1548.48")), "{html}");
    assert!(html.contains(&format!("{today}: 2")), "{html}");
    assert!(
        html.contains("<td>774.24</td>"),
        "average from integer cents:\n{html}"
    );
    assert!(
        html.contains("&lt;b&gt;CUST-1&lt;/b&gt;") && !html.contains("<b>CUST-1"),
        "{html}"
    );
    let first = html.find("CUST-1").unwrap();
    let second = html.find("CUST-2").unwrap();
    assert!(first < second, "ranked by revenue");

    let bad = app
        .server()
        .get("/dashboard/kpis?days=0")
        .authorization_bearer("test-token")
        .await;
    bad.assert_status(StatusCode::BAD_REQUEST);
    insta::assert_snapshot!(bad.text());
}

#[tokio::test]
async fn the_consoles_stylesheet_and_script_are_static_files() {
    let app = TestApp::boot().await;
    let server = app.server();
    for (path, kind) in [
        ("/static/console/console.css", "text/css"),
        ("/static/console/console.js", "javascript"),
    ] {
        let response = server.get(path).await;
        response.assert_status_ok();
        let content_type = response.header("content-type");
        assert!(
            content_type.to_str().unwrap().contains(kind),
            "{path}: {content_type:?}"
        );
        assert!(!response.text().is_empty(), "{path}");
    }
}
