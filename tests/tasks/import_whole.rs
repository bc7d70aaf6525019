//! Issue 17 §1-2 through the real `orders_import` process: whole orders
//! however far apart their rows, hostile files in bounded memory, and
//! `orders_generate`'s refusals.
use std::{
    fs::File,
    io::{Seek, SeekFrom, Write},
    process::{Command, Stdio},
};

use orders_flow::models::_entities::{order_items, orders};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::support::{
    imports::{done, import_workers, imports, run_task, stderr, success, Scratch},
    TestApp,
};

const ITEMS_HEADER: &str =
    "external_order_id,order_placed_at,currency,customer_id,customer_email,customer_name,product_sku,product_name,unit_price_cents,qty";
/// The bound on the import task's peak RSS.
const MAX_RSS_KB: i64 = 150 * 1024;

fn item(order: &str, customer: &str, sku: &str, cents: i64, qty: i64) -> String {
    format!("{order},2025-10-27 16:12:00,EUR,{customer},,,{sku},Thing,{cents},{qty}\n")
}

#[tokio::test]
async fn rows_of_one_order_100000_lines_apart_import_whole_and_a_far_bad_row_rejects_its_order() {
    let app = TestApp::boot().await;
    let scratch = Scratch::new();
    let mut text = format!("{ITEMS_HEADER}\n");
    text.push_str(&item("FAR", "C-FAR", "S-1", 1_999, 2)); // line 2
    text.push_str(&item("BAD", "C-BAD", "S-1", 500, 1)); // line 3
                                                         // 20,000 other orders (more than the old grouper kept open), then blank
                                                         // lines: FAR's last row stands 100,000 lines after its first.
    for n in 0..20_000 {
        text.push_str(&item(&format!("O{n}"), "C", "S-2", 100, 1));
    }
    text.push_str(&"\n".repeat(100_000 - 20_000 - 2));
    text.push_str(&item("FAR", "C-FAR", "S-2", 25_000, 1)); // line 100,002
    text.push_str(&item("BAD", "C-BAD", "S-2", 700, 0)); // line 100,003: qty 0
    text.push_str(&item("FAR", "C-FAR", "S-3", 1, 3)); // line 100,004
    let file = scratch.file("far.csv", &text);

    let workers = import_workers(&app).await;
    let out = run_task(&app, &["orders_import", &format!("file={file}")]).await;
    let stdout = success(&out);
    let [import] = imports(&app).await.try_into().unwrap();
    let import = done(&app, import.id).await;
    workers.stop().await;
    assert_eq!(
        (
            import.rows_read,
            import.rows_rejected,
            import.orders_created
        ),
        (20_005, 2, 20_001),
        "{stdout}"
    );

    let db = &app.ctx().db;
    let far = orders::Entity::find()
        .filter(orders::Column::ExternalId.eq("FAR"))
        .one(db)
        .await
        .unwrap()
        .expect("FAR imported");
    assert_eq!(far.total_cents, 2 * 1_999 + 25_000 + 3);
    let far_items = order_items::Entity::find()
        .filter(order_items::Column::OrderId.eq(far.id))
        .count(db)
        .await
        .unwrap();
    assert_eq!(far_items, 3);
    let bad = orders::Entity::find()
        .filter(orders::Column::ExternalId.eq("BAD"))
        .count(db)
        .await
        .unwrap();
    assert_eq!(
        bad, 0,
        "an order with a bad row is never imported, not even in part"
    );

    let rejects = std::fs::read_to_string(format!("{file}.rejects.csv")).unwrap();
    let lines: Vec<&str> = rejects.lines().collect();
    assert_eq!(
        lines,
        [
            "line,column,reason,raw",
            "3,row,order BAD is rejected whole: its row at line 100003 is bad (qty must be at least 1),\"BAD,2025-10-27 16:12:00,EUR,C-BAD,,,S-1,Thing,500,1\"",
            "100003,qty,qty must be at least 1,\"BAD,2025-10-27 16:12:00,EUR,C-BAD,,,S-2,Thing,700,0\"",
        ]
    );
}

/// Runs `orders_import` as a child process and returns (exit ok, stdout,
/// stderr, peak RSS in KiB from the kernel's accounting of the child).
fn import_with_peak_rss(
    app: &TestApp,
    scratch: &Scratch,
    args: &[&str],
) -> (bool, String, String, i64) {
    let out_path = scratch.path("task.out");
    let err_path = scratch.path("task.err");
    // Reaped by wait4 below, which also reports the child's peak RSS.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(env!("CARGO_BIN_EXE_orders-flow-cli"))
        .arg("task")
        .arg("orders_import")
        .args(args)
        .env("LOCO_ENV", "test")
        .env("REDIS_PREFIX", &app.prefix)
        .env("DATABASE_URL", &app.database_url)
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .expect("start orders_import");
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    let mut status = 0;
    // SAFETY: plain wait4 on our own child; `usage` is filled by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (
        ok,
        std::fs::read_to_string(out_path).unwrap(),
        std::fs::read_to_string(err_path).unwrap(),
        usage.ru_maxrss,
    )
}

#[tokio::test]
async fn the_zero_device_is_refused_at_its_first_line_in_bounded_memory() {
    let app = TestApp::boot().await;
    let scratch = Scratch::new();
    let (ok, _, stderr, rss_kb) = import_with_peak_rss(&app, &scratch, &["file=/dev/zero"]);
    assert!(!ok);
    eprintln!("orders_import peak RSS on /dev/zero: {rss_kb} KiB");
    assert_eq!(
        stderr.trim(),
        "error: the header line is longer than 65536 bytes (settings.import.max_line_bytes): is this a CSV order file?"
    );
    assert!(rss_kb < MAX_RSS_KB, "peak RSS {rss_kb} KiB");
    assert!(imports(&app).await.is_empty(), "nothing recorded");
}

#[tokio::test]
async fn an_endless_line_a_64_mib_field_and_binary_data_are_rejected_in_bounded_memory() {
    let app = TestApp::boot().await;
    let scratch = Scratch::new();
    let path = scratch.path("hostile.csv");
    let mut file = File::create(&path).unwrap();
    write!(file, "{ITEMS_HEADER}\n{}", item("GOOD-1", "C", "S", 100, 1)).unwrap(); // line 2
                                                                                   // Line 3: one 64 MiB customer name (quoted, so it may hold anything).
    write!(file, "BIG,2025-10-27 16:12:00,EUR,C,,\"").unwrap();
    let block = vec![b'n'; 1 << 20];
    for _ in 0..64 {
        file.write_all(&block).unwrap();
    }
    writeln!(file, "\",S,Thing,100,1").unwrap();
    // Line 4: 4 MiB of pseudo-random binary (line breaks and quotes included).
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let binary: Vec<u8> = (0..4 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // No quote: one would open a cell that runs to the end of the file.
            match state.to_le_bytes()[0] {
                b'"' => b'\'',
                byte => byte,
            }
        })
        .collect();
    file.write_all(&binary).unwrap();
    // Then a line with no break for 512 MiB of zero bytes (a hole: no disk
    // used), as a stream from the zero device would look.
    write!(file, "\nENDLESS,").unwrap();
    let hole_from = file.stream_position().unwrap();
    file.seek(SeekFrom::Start(hole_from + (512 << 20))).unwrap();
    write!(file, "\n{}", item("GOOD-2", "C", "S", 250, 2)).unwrap();
    drop(file);

    let (ok, stdout, stderr, rss_kb) =
        import_with_peak_rss(&app, &scratch, &[&format!("file={path}"), "wait=false"]);
    assert!(ok, "stdout:\n{stdout}\nstderr:\n{stderr}");
    eprintln!("orders_import peak RSS on the hostile file: {rss_kb} KiB");
    assert!(rss_kb < MAX_RSS_KB, "peak RSS {rss_kb} KiB");

    let [import] = imports(&app).await.try_into().unwrap();
    assert_eq!(import.orders_read, 2, "{stdout}");
    let rejects = std::fs::read_to_string(format!("{path}.rejects.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(rejects.as_bytes());
    let rows: Vec<(u64, String, String)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].parse().unwrap(), r[1].to_owned(), r[2].to_owned())
        })
        .collect();
    // The big field and the endless line are named with their lines; the
    // binary block is rejected row by row, whatever its rows look like.
    assert_eq!(
        rows[0],
        (
            3,
            "row".to_owned(),
            format!(
                "line is longer than 65536 bytes (settings.import.max_line_bytes): {} bytes",
                (64 << 20) + 47
            )
        )
    );
    let endless = rows
        .iter()
        .find(|(_, _, reason)| reason.contains(&format!("{} bytes", (512 << 20) + 8)));
    assert!(endless.is_some(), "{rows:?}");
    assert!(rows.len() > 2);
    assert!(rows.iter().all(|(line, _, _)| *line >= 3));
    let raw_max = rejects.lines().map(str::len).max().unwrap();
    assert!(raw_max < 70_000, "rejects hold at most a line's cap each");
}

#[tokio::test]
async fn caps_come_from_settings_and_bad_values_stop_the_task_at_start() {
    let app = TestApp::boot().await;
    let scratch = Scratch::new();
    let file = scratch.file(
        "caps.csv",
        &format!(
            "{ITEMS_HEADER}\n{}A,2025-10-27 16:12:00,EUR,C,,{},S,Thing,1,1\n",
            item("OK", "C", "S", 1, 1),
            "x".repeat(31)
        ),
    );
    let run = |max_field: &str| {
        Command::new(env!("CARGO_BIN_EXE_orders-flow-cli"))
            .args([
                "task",
                "orders_import",
                &format!("file={file}"),
                "wait=false",
            ])
            .env("LOCO_ENV", "test")
            .env("REDIS_PREFIX", &app.prefix)
            .env("DATABASE_URL", &app.database_url)
            .env("IMPORT_MAX_FIELD_CHARS", max_field)
            .output()
            .unwrap()
    };
    let out = run("30");
    assert!(out.status.success(), "{}", stderr(&out));
    let rejects = std::fs::read_to_string(format!("{file}.rejects.csv")).unwrap();
    assert!(
        rejects.contains("3,customer_name,customer_name is longer than 30 characters (31)"),
        "{rejects}"
    );
    let out = run("0");
    assert!(!out.status.success());
    assert!(
        stderr(&out)
            .contains("settings.import.max_field_chars must be between 1 and max_line_bytes"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        imports(&app).await.len(),
        1,
        "the refused run recorded nothing"
    );
}

#[tokio::test]
async fn orders_generate_refuses_absurd_sizes_and_files_that_would_not_fit() {
    let app = TestApp::boot().await;
    let scratch = Scratch::new();
    let file = scratch.path("huge.csv");
    let out = run_task(
        &app,
        &[
            "orders_generate",
            &format!("file={file}"),
            "orders=100000001",
        ],
    )
    .await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("argument `orders` must be at most 100000000"),
        "{}",
        stderr(&out)
    );
    assert!(!std::path::Path::new(&file).exists());

    // 100,000,000 orders are about 45 GB: more than /dev/shm holds here. The
    // precondition is checked so that this test can never write such a file.
    let shm = std::path::Path::new("/dev/shm");
    let free_gb = {
        let path = std::ffi::CString::new("/dev/shm").unwrap();
        // SAFETY: statvfs fills a plain C struct.
        let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::statvfs(path.as_ptr(), &mut stat) }, 0);
        stat.f_bavail * stat.f_frsize / 1_000_000_000
    };
    assert!(
        free_gb < 40,
        "precondition: /dev/shm must have less than 40 GB free ({free_gb} GB)"
    );
    let target = shm.join(format!("of-generate-{}.csv", uuid::Uuid::new_v4().simple()));
    let out = run_task(
        &app,
        &[
            "orders_generate",
            &format!("file={}", target.display()),
            "orders=100000000",
        ],
    )
    .await;
    let _ = std::fs::remove_file(&target);
    assert!(!out.status.success());
    let message = stderr(&out);
    assert!(
        message.contains("not enough disk space for 100000000 orders: the file needs about"),
        "{message}"
    );
    assert!(message.contains("/dev/shm has"), "{message}");
}
