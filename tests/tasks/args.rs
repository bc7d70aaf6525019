//! The documented `key=value` form, Loco's `key:value` form, and usage errors.
use std::process::{Command, Output};

use crate::support::TestApp;

fn task(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orders-flow-cli"))
        .arg("task")
        .args(args)
        .env("LOCO_ENV", "test")
        .env("REDIS_PREFIX", &app.prefix)
        .env("DATABASE_URL", &app.database_url)
        .output()
        .expect("run task")
}

#[tokio::test]
async fn key_equals_value_and_key_colon_value_both_work() {
    let app = TestApp::boot().await;
    for form in ["queue=refunds", "queue:refunds"] {
        let out = task(&app, &["queues_status", form, "format=json"]);
        assert!(
            out.status.success(),
            "{form}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let counts: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json output");
        assert_eq!(counts.as_array().map(Vec::len), Some(1), "{form}");
        assert_eq!(counts[0]["queue"], format!("{}:refunds", app.prefix));
    }
}

#[tokio::test]
async fn an_unknown_argument_fails_with_the_usage() {
    let app = TestApp::boot().await;
    let out = task(&app, &["queues_status", "colour=blue"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown argument `colour`"), "{stderr}");
    assert!(
        stderr.contains("usage: cargo loco task queues_status"),
        "{stderr}"
    );
    let out = task(&app, &["queues_status", "format=xml"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown format `xml`"));
}

#[tokio::test]
async fn a_repeated_argument_is_refused_by_every_task() {
    let app = TestApp::boot().await;
    let dir = std::env::temp_dir().join(format!("of-args-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.csv"), dir.join("b.csv"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let runs: Vec<(&str, Vec<String>)> = vec![
        (
            "queues_status",
            vec!["queue=refunds".into(), "queue=notifications".into()],
        ),
        (
            "queues_dead",
            vec!["queue=refunds".into(), "limit=1".into(), "limit:2".into()],
        ),
        (
            "queues_retry",
            vec![
                "queue=refunds".into(),
                "all=true".into(),
                "queue=notifications".into(),
            ],
        ),
        (
            "orders_recover",
            vec!["stuck_after=1".into(), "stuck_after=2".into()],
        ),
        (
            "kpi_rebuild",
            vec!["date=2025-10-26".into(), "date=2025-10-27".into()],
        ),
        ("kpi_verify", vec!["x=1".into(), "x=2".into()]),
        (
            "orders_status",
            vec!["format=json".into(), "format=text".into()],
        ),
        (
            "orders_import",
            vec![format!("file={a}"), format!("file={b}")],
        ),
        (
            "orders_generate",
            vec![format!("file={a}"), "orders=5".into(), format!("file={b}")],
        ),
        (
            "products_import",
            vec![format!("file={a}"), format!("file={b}")],
        ),
        (
            "orders_refund",
            vec![
                "order=ORD-1".into(),
                "amount_cents=1".into(),
                "order=ORD-2".into(),
            ],
        ),
    ];
    for (name, args) in &runs {
        let mut all = vec![name.to_string()];
        all.extend(args.iter().cloned());
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let out = task(&app, &all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: {stderr}");
        assert_eq!(
            stderr.trim(),
            format!(
                "error: argument `{}` is given more than once; give each argument once",
                args.last().unwrap().split(['=', ':']).next().unwrap()
            ),
            "{name}"
        );
        assert!(
            out.stdout.is_empty(),
            "{name} ran: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    assert!(!std::path::Path::new(b).exists(), "nothing was generated");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn kpi_rebuild_takes_a_day_as_yyyy_mm_dd_only() {
    let app = TestApp::boot().await;
    for date in [
        "0000-01-01",
        "-0001-01-01",
        "+2025-10-27",
        " 2025-10-27",
        "2025-10-27 ",
        "2025-02-29",
        "20251027",
    ] {
        let arg = format!("date={date}");
        let out = task(&app, &["kpi_rebuild", &arg]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{date:?} was taken: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let first = stderr.lines().next().unwrap_or_default();
        assert!(first.contains("argument `date` "), "{date:?}: {stderr}");
        assert!(
            first.ends_with(&format!("got `{date}`")),
            "{date:?}: {stderr}"
        );
    }
    let out = task(&app, &["kpi_rebuild", "date=2025-10-27"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_day_rebuild_reports_the_all_time_board_as_it_stands() {
    let app = crate::support::refunds::boot().await;
    for n in 1..=3 {
        crate::support::seed::paid_order(app.ctx(), &format!("ORD-{n}"), 1_000 * n).await;
    }
    let all = task(&app, &["kpi_rebuild"]);
    assert_eq!(
        String::from_utf8_lossy(&all.stdout).trim(),
        "rebuilt 1 day(s); 3 customer(s) on the all-time board",
        "{}",
        String::from_utf8_lossy(&all.stderr)
    );
    // A day without orders: its board is empty, the all-time board still holds 3.
    let quiet = task(&app, &["kpi_rebuild", "date=2025-10-26"]);
    assert_eq!(
        String::from_utf8_lossy(&quiet.stdout).trim(),
        "rebuilt 2025-10-26: 0 customer(s) on its board; the all-time board (not rebuilt) holds 3",
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
    let busy = task(&app, &["kpi_rebuild", "date=2025-10-27"]);
    assert_eq!(
        String::from_utf8_lossy(&busy.stdout).trim(),
        "rebuilt 2025-10-27: 3 customer(s) on its board; the all-time board (not rebuilt) holds 3"
    );
}
