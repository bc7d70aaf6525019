//! End-to-end behaviour of the import stream on files and strings.

use std::{
    fs,
    path::{Path, PathBuf},
};

use chrono::{TimeZone, Utc};
use orders_flow::models::generator::{generate, GenerateOptions, GenerateStats};
use orders_flow::models::import::{
    Chunk, Format, HeaderError, ImportError, ImportStats, OrderStream, ParsedOrder, Reject,
    RejectsWriter, StreamOptions, Warning,
};

const ITEMS_HEADER: &str =
    "external_order_id,order_placed_at,currency,customer_id,customer_email,customer_name,product_sku,product_name,unit_price_cents,qty";

/// The two sample files of the systems we replace (copied from `shared/fixtures`).
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Everything a stream produced, chunks flattened.
struct Outcome {
    orders: Vec<ParsedOrder>,
    rejects: Vec<Reject>,
    warnings: Vec<Warning>,
    stats: ImportStats,
    chunk_sizes: Vec<usize>,
}

fn drain<R: std::io::Read + std::io::Seek>(mut stream: OrderStream<R>) -> Outcome {
    let mut out = Outcome {
        orders: Vec::new(),
        rejects: Vec::new(),
        warnings: Vec::new(),
        stats: ImportStats::default(),
        chunk_sizes: Vec::new(),
    };
    while let Some(chunk) = stream.next_chunk().unwrap() {
        let Chunk {
            orders,
            rejects,
            warnings,
            stats,
        } = chunk;
        out.chunk_sizes.push(orders.len());
        out.orders.extend(orders);
        out.rejects.extend(rejects);
        out.warnings.extend(warnings);
        out.stats = stats;
    }
    let last = stream.stats();
    if !out.chunk_sizes.is_empty() {
        assert_eq!(out.stats, last, "the last chunk carries the final counts");
    }
    out.stats = last;
    out
}

fn parse_str(text: &str, options: StreamOptions) -> Outcome {
    drain(OrderStream::new(std::io::Cursor::new(text.as_bytes()), options).unwrap())
}

fn rejects(outcome: &Outcome) -> Vec<(u64, &str, &str)> {
    outcome
        .rejects
        .iter()
        .map(|r| (r.line, r.column.as_str(), r.reason.as_str()))
        .collect()
}

fn order<'a>(outcome: &'a Outcome, id: &str) -> &'a ParsedOrder {
    outcome.orders.iter().find(|o| o.external_id == id).unwrap()
}

#[test]
fn orders_fixture_parses_with_total_warnings() {
    let stream = OrderStream::open(
        &fixture("orders-format-sample.csv"),
        StreamOptions::default(),
    )
    .unwrap();
    assert_eq!(stream.format(), Format::Orders);
    let out = drain(stream);
    // The fixture has 723 data rows (ORD-2025-001..723; the last has no newline).
    assert_eq!(out.stats.rows_read, 723);
    assert_eq!(out.orders.len(), 723);
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let lines: Vec<u64> = out
        .warnings
        .iter()
        .map(|Warning::TotalMismatch { line, .. }| *line)
        .collect();
    assert_eq!(lines, [3, 11, 26, 45, 49, 63, 87, 111]);
    let Warning::TotalMismatch {
        external_id,
        declared_cents,
        computed_cents,
        ..
    } = &out.warnings[0];
    assert_eq!(
        (external_id.as_str(), *declared_cents, *computed_cents),
        ("ORD-2025-002", 19_999, 19_998)
    );
    let laptop = order(&out, "ORD-2025-001");
    assert_eq!(
        (
            laptop.total_cents(),
            laptop.first_line,
            laptop.currency.as_str()
        ),
        (99_900, 2, "EUR")
    );
    assert_eq!(laptop.items[0].sku, "laptop");
    assert_eq!(order(&out, "ORD-2025-004").total_cents(), 29_950);
    assert_eq!(order(&out, "ORD-2025-723").first_line, 724);
    let sum: i64 = out.orders.iter().map(ParsedOrder::total_cents).sum();
    assert!(sum > 0);
}

#[test]
fn items_fixture_groups_into_three_orders() {
    let out = drain(
        OrderStream::open(
            &fixture("items-format-sample.csv"),
            StreamOptions::default(),
        )
        .unwrap(),
    );
    assert_eq!(
        (out.stats.rows_read, out.orders.len(), out.rejects.len()),
        (6, 3, 0)
    );
    let first = order(&out, "ORD-100045");
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.total_cents(), 109_900 + 3 * 1_998);
    assert_eq!(
        first.placed_at,
        Some(Utc.with_ymd_and_hms(2025, 10, 27, 16, 12, 0).unwrap())
    );
    assert_eq!(first.customer.email.as_deref(), Some("jane@example.com"));
    assert_eq!(first.customer.name.as_deref(), Some("Jane Doe"));
    assert_eq!(first.currency, "EUR");
    let third = order(&out, "ORD-100047");
    assert_eq!(
        (third.items.len(), third.total_cents(), third.first_line),
        (3, 3_999 + 8_999 + 2 * 1_299, 5)
    );
}

#[test]
fn malformed_items_rows_are_rejected_with_line_and_reason() {
    let text = format!(
        "{ITEMS_HEADER}
A,2025-10-27 16:12:00,EUR,C1,a@x.io,Ann,SKU-1,One,100,1
A,2025-10-27 16:12:00,EUR,C1,a@x.io,Ann,SKU-2,Two,250
,2025-10-27 16:12:00,EUR,C1,a@x.io,Ann,SKU-1,One,100,1
B,2025-10-27 16:12:00,EUR,C2,b@x.io,Bob,SKU-1,One,100,0
B,2025-10-27 16:12:00,EUR,C2,b@x.io,Bob,SKU-1,One,-100,1
B,27/10/2025,EUR,C2,b@x.io,Bob,SKU-1,One,100,1
B,2025-10-27 16:12:00,EURO,C2,b@x.io,Bob,SKU-1,One,100,1
B,2025-10-27T16:12:00Z,EUR,C2,b@x.io,\"Bob
Builder\",SKU-3,Three,300,2
A,2025-10-27 16:13:00,EUR,C9,a@x.io,Ann,SKU-2,Two,250,1
A,2025-10-27 16:13:00,USD,C1,a@x.io,Ann,SKU-2,Two,250,1
B,2025-10-27 16:12:00,EUR,C2,b@x.io,Bob,,One,100,1
B,2025-10-27 16:12:00,EUR,C2,b@x.io,Bob,SKU-4,Four,1.5,1
A,2025-10-27 16:10:00,eur,C1,,,SKU-5,Five,500,1
"
    );
    let text = format!("{text}C,2025-10-27 16:12:00,EUR,C3,,,SKU-1,One,100,2\n");
    let out = parse_str(&text, StreamOptions::default());
    // A and B each have a bad row: each is rejected whole, every row of it
    // in the rejects file; the row with no order id alone.
    let whole_a =
        "order A is rejected whole: its row at line 3 is bad (expected 10 cells, found 9)";
    let whole_b = "order B is rejected whole: its row at line 5 is bad (qty must be at least 1)";
    assert_eq!(
        rejects(&out),
        [
            (2, "row", whole_a),
            (3, "row", "expected 10 cells, found 9"),
            (4, "external_order_id", "external_order_id is empty"),
            (5, "qty", "qty must be at least 1"),
            (6, "unit_price_cents", "unit_price_cents `-100`: amount is negative"),
            (7, "order_placed_at", "order_placed_at `27/10/2025` is not a date (expected YYYY-MM-DD HH:MM:SS or RFC 3339)"),
            (8, "currency", "currency `EURO` is not a 3-letter code"),
            (9, "row", whole_b),
            (11, "row", whole_a),
            (12, "row", whole_a),
            (13, "product_sku", "product_sku is empty"),
            (14, "unit_price_cents", "unit_price_cents `1.5`: amount must be a whole number of cents"),
            (15, "row", whole_a),
        ]
    );
    assert_eq!(
        out.rejects[1].raw,
        "A,2025-10-27 16:12:00,EUR,C1,a@x.io,Ann,SKU-2,Two,250"
    );
    assert_eq!(
        out.rejects[7].raw,
        "B,2025-10-27T16:12:00Z,EUR,C2,b@x.io,\"Bob\nBuilder\",SKU-3,Three,300,2"
    );
    assert_eq!((out.stats.rows_read, out.stats.rejected_rows), (14, 13));
    let ids: Vec<&str> = out.orders.iter().map(|o| o.external_id.as_str()).collect();
    assert_eq!(ids, ["C"]);
    assert_eq!(order(&out, "C").total_cents(), 200);
}

#[test]
fn a_customer_or_currency_that_differs_rejects_the_order_whole() {
    let text = format!(
        "{ITEMS_HEADER}
A,2025-10-27 16:12:00,EUR,C1,a@x.io,Ann,SKU-1,One,100,1
B,2025-10-27 16:12:00,EUR,C2,,Bob,SKU-1,One,100,1
A,2025-10-27 16:13:00,EUR,C9,a@x.io,Ann,SKU-2,Two,250,1
B,2025-10-27 16:12:00,usd,C2,,Bob,SKU-1,One,100,1
A,2025-10-27 16:10:00,eur,C1,,,SKU-5,Five,500,1
"
    );
    let out = parse_str(&text, StreamOptions::default());
    assert_eq!(
        rejects(&out),
        [
            (2, "row", "order A is rejected whole: its row at line 4 is bad (customer_id `C9` differs from `C1` given for order A at line 2)"),
            (4, "customer_id", "customer_id `C9` differs from `C1` given for order A at line 2"),
            (3, "row", "order B is rejected whole: its row at line 5 is bad (currency `usd` differs from `EUR` given for order B at line 3)"),
            (5, "currency", "currency `usd` differs from `EUR` given for order B at line 3"),
            (6, "row", "order A is rejected whole: its row at line 4 is bad (customer_id `C9` differs from `C1` given for order A at line 2)"),
        ]
    );
    assert!(out.orders.is_empty());
}

#[test]
fn malformed_orders_rows_are_rejected_with_line_and_reason() {
    let text = r#"order_id,customer_id,total,items
O1,1,10.00,"[{""product"":""Pen"",""qty"":2,""price"":5}]"
O2,1,10.00
,1,1.00,"[{""product"":""Pen"",""qty"":1,""price"":1}]"
O3,,1.00,"[{""product"":""Pen"",""qty"":1,""price"":1}]"
O4,1,1.00,"[{""product"":""Pen"",""qty"":1,""price"":1"
O5,1,1.00,"{""product"":""Pen""}"
O6,1,0.00,"[]"
O7,1,1.00,"[{""product"":""Pen"",""qty"":0,""price"":1}]"
O8,1,1.00,"[{""product"":""Pen"",""qty"":1,""price"":-1}]"
O9,1,1.00,"[{""product"":""Pen"",""qty"":1,""price"":1.005}]"
O10,1,abc,"[{""product"":""Pen"",""qty"":1,""price"":1}]"
O1,2,10.00,"[{""product"":""Pen"",""qty"":2,""price"":5}]"
O11,1,9.99,"[{""product"":""Pen"",""qty"":3,""price"":3.33}]"
"#;
    let out = parse_str(text, StreamOptions::default());
    let got = rejects(&out);
    let expected_prefixes = [
        (3, "row", "expected 4 cells, found 3"),
        (4, "order_id", "order_id is empty"),
        (5, "customer_id", "customer_id is empty"),
        (6, "items", "items is not valid JSON"),
        (7, "items", "items must be a JSON array"),
        (8, "items", "items is an empty array"),
        (9, "items[0].qty", "items[0].qty must be at least 1"),
        (
            10,
            "items[0].price",
            "items[0].price `-1`: amount is negative",
        ),
        (
            11,
            "items[0].price",
            "items[0].price `1.005`: amount has more than 2 decimals",
        ),
        (12, "total", "total `abc`: amount is not a number"),
        (
            13,
            "order_id",
            "duplicate order id O1 (first seen at line 2)",
        ),
    ];
    assert_eq!(got.len(), expected_prefixes.len(), "{got:#?}");
    for ((line, column, reason), (want_line, want_column, want_reason)) in
        got.iter().zip(expected_prefixes)
    {
        assert_eq!((*line, *column), (want_line, want_column), "{reason}");
        assert!(reason.starts_with(want_reason), "line {line}: {reason}");
    }
    let ids: Vec<&str> = out.orders.iter().map(|o| o.external_id.as_str()).collect();
    assert_eq!(ids, ["O1", "O11"]);
    assert_eq!(out.warnings.len(), 0, "9.99 = 3 x 3.33 exactly");
}

#[test]
fn header_tolerates_bom_case_spaces_and_extra_columns() {
    let text = "\u{feff} Note ,ORDER_ID , Customer_Id,Total,  ITEMS\nhello,O1,7,1.50,\"[{\"\"product\"\":\"\"Pen\"\",\"\"qty\"\":3,\"\"price\"\":0.5}]\"\n";
    let out = parse_str(text, StreamOptions::default());
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(out.orders[0].external_id, "O1");
    assert_eq!(out.orders[0].total_cents(), 150);
    let crlf = format!(
        "\u{feff}{}\r\nA,2025-10-27 16:12:00,EUR,C1,,,S,N,1,1\r\n",
        ITEMS_HEADER.to_uppercase()
    );
    let out = parse_str(&crlf, StreamOptions::default());
    assert_eq!((out.orders.len(), out.rejects.len()), (1, 0));
}

#[test]
fn bad_headers_refuse_the_whole_file() {
    let err = |text: &str| {
        OrderStream::new(
            std::io::Cursor::new(text.as_bytes()),
            StreamOptions::default(),
        )
        .err()
        .unwrap()
    };
    let missing = err("order_id,customer_id,items\nO1,1,[]\n");
    assert!(
        matches!(&missing, ImportError::Header(HeaderError::MissingColumns { missing, .. }) if missing == &["total"])
    );
    assert_eq!(
        missing.to_string(),
        "header is missing required column(s) for the orders format: total"
    );
    assert!(matches!(err(""), ImportError::Header(HeaderError::Empty)));
    assert!(err("sku,name,price_cents,stock\n")
        .to_string()
        .starts_with("unrecognised header"));
    let options = StreamOptions {
        default_currency: "euro".into(),
        ..StreamOptions::default()
    };
    assert!(matches!(
        OrderStream::new(
            std::io::Cursor::new("order_id,customer_id,total,items\n".as_bytes()),
            options
        ),
        Err(ImportError::DefaultCurrency(_))
    ));
    let missing_file = OrderStream::open(
        Path::new("/nonexistent/orders.csv"),
        StreamOptions::default(),
    );
    assert!(missing_file
        .err()
        .unwrap()
        .to_string()
        .starts_with("cannot open /nonexistent/orders.csv"));
    let header_only = parse_str(
        "order_id,customer_id,total,items\n",
        StreamOptions::default(),
    );
    assert_eq!(
        (header_only.stats.rows_read, header_only.chunk_sizes.len()),
        (0, 0)
    );
}

#[test]
fn non_adjacent_rows_group_whole_however_few_orders_may_stay_open() {
    let row =
        |id: &str, sku: &str| format!("{id},2025-10-27 16:12:00,EUR,C-{id},,,{sku},N,100,1\n");
    let mut text = format!("{ITEMS_HEADER}\n");
    for (id, sku) in [
        ("A", "1"),
        ("B", "1"),
        ("C", "1"),
        ("A", "2"),
        ("B", "2"),
        ("D", "1"),
        ("A", "3"),
    ] {
        text.push_str(&row(id, sku));
    }
    let sizes = |out: &Outcome| -> Vec<(String, usize, u64)> {
        let mut sizes: Vec<_> = out
            .orders
            .iter()
            .map(|o| (o.external_id.clone(), o.items.len(), o.first_line))
            .collect();
        sizes.sort();
        sizes
    };
    let want = [
        ("A".to_owned(), 3, 2),
        ("B".to_owned(), 2, 3),
        ("C".to_owned(), 1, 4),
        ("D".to_owned(), 1, 7),
    ];
    let out = parse_str(&text, StreamOptions::default());
    assert!(out.rejects.is_empty());
    assert_eq!(sizes(&out), want);
    // Handed out as each order's last row goes by.
    let ids: Vec<&str> = out.orders.iter().map(|o| o.external_id.as_str()).collect();
    assert_eq!(ids, ["C", "B", "D", "A"]);

    // With room for one open order at a time the file is read once per
    // order that had to wait: still every order whole, the same counts.
    for max_open_orders in [1, 2] {
        let tight = StreamOptions {
            max_open_orders,
            ..StreamOptions::default()
        };
        let out = parse_str(&text, tight);
        assert!(out.rejects.is_empty(), "{:?}", out.rejects);
        assert_eq!(sizes(&out), want);
        assert_eq!(out.stats.rows_read, 7);
    }
}

#[test]
fn rows_of_one_order_far_apart_make_one_order_with_the_right_total() {
    // A's rows 100,000 lines apart, 50,000 other orders between them.
    let mut text = format!("{ITEMS_HEADER}\nA,2025-10-27 16:12:00,EUR,CA,,,S1,N,1234,1\n");
    for n in 0..100_000 {
        text.push_str(&format!(
            "O{},2025-10-27 16:12:00,EUR,C,,,S,N,100,1\n",
            n / 2
        ));
    }
    text.push_str("A,2025-10-27 16:12:00,EUR,CA,,,S2,N,4321,2\n");
    let options = StreamOptions {
        max_open_orders: 100,
        ..StreamOptions::default()
    };
    let out = parse_str(&text, options);
    assert!(out.rejects.is_empty());
    assert_eq!(out.orders.len(), 50_001);
    let a = order(&out, "A");
    assert_eq!(
        (a.items.len(), a.total_cents(), a.first_line),
        (2, 1234 + 2 * 4321, 2)
    );
    assert!(out
        .orders
        .iter()
        .all(|o| o.external_id == "A" || o.items.len() == 2));
}

#[test]
fn over_long_lines_and_cells_are_rejected_and_the_import_goes_on() {
    let options = StreamOptions {
        max_line_bytes: 200,
        max_field_chars: 20,
        max_id_chars: 10,
        ..StreamOptions::default()
    };
    let long = "é".repeat(21);
    let text = format!(
        "{ITEMS_HEADER}
A,2025-10-27 16:12:00,EUR,C,,{long},S,N,100,1
B,2025-10-27 16:12:00,EUR,C,,,S,N,100,1
B,2025-10-27 16:12:00,EUR,C,,,S,\"{}\",100,1
LONGER-THAN-10,2025-10-27 16:12:00,EUR,C,,,S,N,100,1
E,2025-10-27 16:12:00,EUR,C,,{},S,N,100,1
OK,2025-10-27 16:12:00,EUR,C,,,S,N,100,1
",
        "x\n".repeat(300),
        "é".repeat(20)
    );
    let out = parse_str(&text, options.clone());
    let got = rejects(&out);
    assert_eq!(
        got[0],
        (
            2,
            "customer_name",
            "customer_name is longer than 20 characters (21)"
        )
    );
    assert_eq!(got[1].0, 3);
    assert_eq!(
        got[2],
        (
            4,
            "row",
            "line is longer than 200 bytes (settings.import.max_line_bytes): 640 bytes"
        )
    );
    assert_eq!(
        got[3],
        (
            305,
            "external_order_id",
            "external_order_id is longer than 10 characters (14)"
        )
    );
    assert_eq!(got.len(), 4);
    assert!(out.rejects[2].raw.ends_with('…') && out.rejects[2].raw.chars().count() == 201);
    let ids: Vec<&str> = out.orders.iter().map(|o| o.external_id.as_str()).collect();
    assert_eq!(ids, ["E", "OK"]);
    // An over-long header refuses the file.
    let err = OrderStream::new(
        std::io::Cursor::new(format!("{ITEMS_HEADER},{}\n", "x".repeat(300))),
        options,
    )
    .err()
    .unwrap();
    assert!(
        matches!(err, ImportError::Header(HeaderError::TooLong(200))),
        "{err}"
    );
}

#[test]
fn the_items_format_needs_a_file_it_can_read_twice() {
    let dir = std::env::temp_dir().join(format!("of-fifo-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("items.fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let _ = fs::write(
                &fifo,
                format!("{ITEMS_HEADER}\nA,2025-10-27 16:12:00,EUR,C,,,S,N,1,1\n"),
            );
        })
    };
    let err = OrderStream::open(&fifo, StreamOptions::default())
        .err()
        .unwrap();
    assert!(matches!(err, ImportError::NotSeekable), "{err}");
    assert!(err.to_string().contains("give a regular file"), "{err}");
    writer.join().unwrap();
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn chunks_never_exceed_chunk_size_and_counts_add_up() {
    let options = StreamOptions {
        chunk_size: 7,
        ..StreamOptions::default()
    };
    let out = drain(OrderStream::open(&fixture("orders-format-sample.csv"), options).unwrap());
    assert!(out.chunk_sizes.iter().all(|&n| n <= 7));
    assert_eq!(out.chunk_sizes.iter().sum::<usize>(), 723);
    assert_eq!(out.stats.orders, 723);
    assert_eq!(out.stats.warnings, 8);
    assert!(out.stats.bytes_read > 60_000);
}

fn generated(format: Format, seed: u64, orders: u64) -> (Vec<u8>, GenerateStats) {
    let options = GenerateOptions {
        orders,
        format,
        seed,
        customers: 300,
        products: 500,
        now: Utc.with_ymd_and_hms(2025, 11, 21, 0, 0, 0).unwrap(),
    };
    let mut bytes = Vec::new();
    let stats = generate(&mut bytes, options).unwrap();
    (bytes, stats)
}

#[test]
fn generated_files_parse_back_cleanly() {
    for format in [Format::Items, Format::Orders] {
        let (bytes, generated) = generated(format, 9, 3_000);
        let options = StreamOptions {
            chunk_size: 250,
            max_open_orders: 1,
            ..StreamOptions::default()
        };
        let out = drain(OrderStream::new(std::io::Cursor::new(bytes.as_slice()), options).unwrap());
        assert!(out.rejects.is_empty(), "{format}: {:?}", &out.rejects[..1]);
        assert!(out.warnings.is_empty(), "{format}: totals must be exact");
        assert_eq!(out.orders.len() as u64, generated.orders);
        assert_eq!(out.stats.rows_read, generated.rows);
        let items: usize = out.orders.iter().map(|o| o.items.len()).sum();
        assert_eq!(items as u64, generated.items);
        let ids: std::collections::HashSet<&str> =
            out.orders.iter().map(|o| o.external_id.as_str()).collect();
        assert_eq!(ids.len(), 3_000);
    }
}

#[test]
fn generator_is_deterministic() {
    assert_eq!(
        generated(Format::Items, 5, 500).0,
        generated(Format::Items, 5, 500).0
    );
    assert_ne!(
        generated(Format::Items, 5, 500).0,
        generated(Format::Items, 6, 500).0
    );
    assert_eq!(
        generated(Format::Orders, 5, 500).0,
        generated(Format::Orders, 5, 500).0
    );
}

#[test]
fn rejects_file_is_written_beside_the_import() {
    let dir = std::env::temp_dir().join(format!("orders-flow-it-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let import = dir.join("bad.csv");
    fs::write(
        &import,
        "order_id,customer_id,total,items\nO1,1,1.00\nO2,1,1.00,\"[]\"\n",
    )
    .unwrap();
    let mut writer = RejectsWriter::for_import(&import);
    let mut stream = OrderStream::open(&import, StreamOptions::default()).unwrap();
    while let Some(chunk) = stream.next_chunk().unwrap() {
        writer.write_all(&chunk.rejects).unwrap();
    }
    let path = writer.finish().unwrap().unwrap();
    assert_eq!(path, dir.join("bad.csv.rejects.csv"));
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "line,column,reason,raw\n2,row,\"expected 4 cells, found 3\",\"O1,1,1.00\"\n3,items,items is an empty array,\"O2,1,1.00,\"\"[]\"\"\"\n",
        "the raw row is written as it stands in the file"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn line_numbers_count_blank_lines_crlf_and_multiline_cells() {
    let text = "order_id,customer_id,total,items\r\n\r\nO1,1,1.00,\"[{\"\"product\"\":\"\"Pen Red\"\",\r\n\"\"qty\"\":1,\"\"price\"\":1}]\"\r\n\r\nO2,1,1.00\r\nO3,\u{fffd},1.00,\"[]\"\r\n";
    let out = parse_str(text, StreamOptions::default());
    assert_eq!(out.orders[0].first_line, 3);
    assert_eq!(out.orders[0].items[0].sku, "pen-red");
    assert_eq!(
        rejects(&out),
        [
            (6, "row", "expected 4 cells, found 3"),
            (7, "items", "items is an empty array")
        ]
    );
    let invalid_utf8 = b"order_id,customer_id,total,items\nO\xff,1,1.00,[]\n";
    let out = drain(
        OrderStream::new(
            std::io::Cursor::new(&invalid_utf8[..]),
            StreamOptions::default(),
        )
        .unwrap(),
    );
    assert_eq!(
        rejects(&out),
        [(2, "order_id", "order_id is not valid UTF-8")]
    );
    assert_eq!(out.rejects[0].raw, "O\u{fffd},1,1.00,[]");
}
