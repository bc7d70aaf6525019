//! The metrics API: seed shape, exact decimals, ranks, and a JSON 400 for every bad parameter.
use orders_flow::models::kpi::{self, store::EventArgs};

use crate::support::TestApp;

/// Figures straight through the apply script: two paid orders and a failure
/// on one day, a paid order and a refund on the next.
async fn figures(app: &TestApp) {
    let s = app.services();
    let mut conn = s.redis.clone();
    let event = |id, kind: &str, cents, customer: &str, day: &str| EventArgs {
        id,
        kind: kind.into(),
        revenue_delta_cents: cents,
        customer: customer.into(),
        day: day.into(),
    };
    let events = [
        event(1, "order_paid", 109_900, "CUST-001", "2025-10-27"),
        event(2, "order_paid", 44_948, "CUST-002", "2025-10-27"),
        event(3, "order_failed", 0, "CUST-003", "2025-10-27"),
        event(4, "order_paid", 3_999, "CUST-003", "2025-10-28"),
        event(5, "refund_processed", -5_000, "CUST-001", "2025-10-28"),
    ];
    kpi::store::apply(&mut conn, &s.settings.redis.prefix, &events)
        .await
        .unwrap();
}

async fn get(app: &TestApp, uri: &str) -> (u16, serde_json::Value) {
    let response = app
        .server()
        .get(uri)
        .authorization_bearer("test-token")
        .await;
    (response.status_code().as_u16(), response.json())
}

#[tokio::test]
async fn metrics_in_the_seed_shape_with_exact_decimals() {
    let app = TestApp::boot().await;
    figures(&app).await;
    insta::assert_json_snapshot!(
        "metrics_day",
        get(&app, "/api/metrics?date=2025-10-27").await
    );
    insta::assert_json_snapshot!(
        "metrics_day_board",
        get(&app, "/api/metrics?date=2025-10-28&leaderboard=day&limit=1").await
    );
    // Money is written as a decimal number from cents: 1548.48, not 1548.4799999.
    let raw = app
        .server()
        .get("/api/metrics?date=2025-10-27")
        .authorization_bearer("test-token")
        .await
        .text();
    assert!(raw.contains(r#""revenue":1548.48"#), "{raw}");
    assert!(raw.contains(r#""avg_order_value":774.24"#), "{raw}");
}

#[tokio::test]
async fn a_day_without_figures_is_zero() {
    let app = TestApp::boot().await;
    insta::assert_json_snapshot!(
        "metrics_empty",
        get(&app, "/api/metrics?date=2024-01-01").await
    );
}

#[tokio::test]
async fn range_and_leaderboard() {
    let app = TestApp::boot().await;
    figures(&app).await;
    insta::assert_json_snapshot!(
        "metrics_range",
        get(&app, "/api/metrics/range?from=2025-10-27&to=2025-10-29").await
    );
    insta::assert_json_snapshot!("leaderboard_all_time", get(&app, "/api/leaderboard").await);
    insta::assert_json_snapshot!(
        "leaderboard_day",
        get(&app, "/api/leaderboard?date=2025-10-27&limit=5").await
    );
}

#[tokio::test]
async fn bad_parameters_get_a_json_400() {
    let app = TestApp::boot().await;
    for (name, uri) in [
        ("bad_date", "/api/metrics?date=2025-13-01"),
        ("not_a_date", "/api/metrics?date=yesterday"),
        ("limit_zero", "/api/metrics?limit=0"),
        ("limit_too_big", "/api/metrics?limit=101"),
        ("limit_not_a_number", "/api/leaderboard?limit=ten"),
        ("bad_scope", "/api/metrics?leaderboard=weekly"),
        ("range_missing_to", "/api/metrics/range?from=2025-10-01"),
        (
            "range_reversed",
            "/api/metrics/range?from=2025-10-02&to=2025-10-01",
        ),
        (
            "range_too_long",
            "/api/metrics/range?from=2024-01-01&to=2025-01-01",
        ),
        ("bad_query_string", "/api/leaderboard?date=%ZZ"),
    ] {
        let (status, body) = get(&app, uri).await;
        assert_eq!(status, 400, "{name}: {body}");
        insta::assert_json_snapshot!(format!("bad_{name}"), body);
    }
}

/// What the metrics routes say about the figures: (`rebuilding` in each body,
/// whether each answer carries the header).
async fn rebuilding_marks(app: &TestApp) -> Vec<(serde_json::Value, bool)> {
    let server = app.server();
    let mut marks = Vec::new();
    for uri in [
        "/api/metrics?date=2025-10-27",
        "/api/metrics/range?from=2025-10-27&to=2025-10-28",
        "/api/leaderboard",
    ] {
        let response = server.get(uri).authorization_bearer("test-token").await;
        response.assert_status_ok();
        let header = response.maybe_header("x-figures-rebuilding");
        assert!(
            header.as_ref().is_none_or(|h| h == "1"),
            "{uri}: {header:?}"
        );
        let body: serde_json::Value = response.json();
        marks.push((body["rebuilding"].clone(), header.is_some()));
    }
    marks
}

#[tokio::test]
async fn figures_lost_with_redis_are_marked_rebuilding_until_healed() {
    let app = TestApp::boot().await;
    figures(&app).await;
    let whole = vec![(serde_json::json!(false), false); 3];
    assert_eq!(rebuilding_marks(&app).await, whole);

    // As after a flush: the generation marker is gone with the rest.
    let mut conn = app.redis().await;
    let _: () = redis::cmd("DEL")
        .arg(app.redis_key("redis:generation"))
        .query_async(&mut conn)
        .await
        .unwrap();
    let lost = vec![(serde_json::json!(true), true); 3];
    assert_eq!(rebuilding_marks(&app).await, lost);
    let page = app
        .server()
        .get("/dashboard/kpis")
        .authorization_bearer("test-token")
        .await;
    page.assert_status_ok();
    assert!(
        page.text().contains("Figures are being rebuilt"),
        "{}",
        page.text()
    );

    // A worker's heartbeat heals (here called directly): the figures are the
    // database's again, and the marks go away.
    let report = orders_flow::workers::heal::heal_if_lost(&app.jobs())
        .await
        .unwrap()
        .expect("a heal");
    assert_eq!(report.requeued.orders_requeued, 0);
    assert_eq!(rebuilding_marks(&app).await, whole);
    let page = app
        .server()
        .get("/dashboard/kpis")
        .authorization_bearer("test-token")
        .await;
    assert!(!page.text().contains("Figures are being rebuilt"));
    // A second check finds nothing to heal.
    assert_eq!(
        orders_flow::workers::heal::heal_if_lost(&app.jobs())
            .await
            .unwrap(),
        None
    );
}
