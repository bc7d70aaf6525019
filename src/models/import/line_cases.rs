//! The line-number cases both readers must pass: [`super::records`] (order
//! files) and [`super::lines`] (the products file under `csv::Reader`) count
//! physical lines the same way, so one set of cases checks both.
use crate::models::prng::SplitMix64;

/// First cell and line of every record of a text, as a reader sees them.
pub type Lines = fn(&str) -> Vec<(String, u64)>;

fn expect(lines: Lines, text: &str, want: &[(&str, u64)]) {
    let got = lines(text);
    let got: Vec<(&str, u64)> = got.iter().map(|(s, l)| (s.as_str(), *l)).collect();
    assert_eq!(got, want, "{text:?}");
}

/// LF, CRLF, blank lines, a cell spanning lines, a BOM.
pub fn fixed(lines: Lines) {
    expect(lines, "h\na\nb\n", &[("h", 1), ("a", 2), ("b", 3)]);
    expect(lines, "h\r\na\r\nb", &[("h", 1), ("a", 2), ("b", 3)]);
    expect(
        lines,
        "h\r\n\r\na\r\n\r\n\r\nb\r\n",
        &[("h", 1), ("a", 3), ("b", 6)],
    );
    expect(
        lines,
        "h\n\"x\r\ny\"\nb\n",
        &[("h", 1), ("x\r\ny", 2), ("b", 4)],
    );
    expect(
        lines,
        "\u{feff}h\n\n\nlong-cell-spanning-buffers\n",
        &[("h", 1), ("long-cell-spanning-buffers", 4)],
    );
}

/// Random files against a naive count of their lines.
pub fn random(lines: Lines) {
    let mut rng = SplitMix64::new(11);
    for _ in 0..200 {
        let mut text = String::from("h\n");
        let mut want = vec![("h".to_owned(), 1u64)];
        let mut line = 2;
        for row in 0..rng.below(20) {
            for _ in 0..rng.below(3) {
                text.push_str(["\n", "\r\n"][rng.below(2) as usize]);
                line += 1;
            }
            let cell = format!("r{row}");
            want.push((cell.clone(), line));
            text.push_str(&cell);
            if rng.below(3) == 0 {
                text.push_str(",\"multi\r\nline\n\"");
                line += 2;
            }
            text.push_str(["\n", "\r\n"][rng.below(2) as usize]);
            line += 1;
        }
        assert_eq!(lines(&text), want, "{text:?}");
    }
}
