//! Cell-level validation shared by both row formats.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use csv::ByteRecord;

/// A cell that failed validation; the stream adds line and raw row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Column name (or `row` for whole-row problems).
    pub column: String,
    /// Human-readable reason.
    pub reason: String,
}

impl Invalid {
    /// Builds an `Invalid` for `column`.
    pub fn new(column: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            column: column.into(),
            reason: reason.into(),
        }
    }
}

/// The trimmed UTF-8 text of cell `index`.
pub fn text<'r>(record: &'r ByteRecord, index: usize, column: &str) -> Result<&'r str, Invalid> {
    let bytes = record.get(index).unwrap_or_default();
    std::str::from_utf8(bytes)
        .map(str::trim)
        .map_err(|_| Invalid::new(column, format!("{column} is not valid UTF-8")))
}

/// At most `max` characters (the caps of `settings.import`).
pub fn check_length(value: &str, column: &str, max: usize) -> Result<(), Invalid> {
    // Bytes bound characters from above: count only when it could matter.
    if value.len() <= max {
        return Ok(());
    }
    let chars = value.chars().count();
    if chars <= max {
        return Ok(());
    }
    Err(Invalid::new(
        column,
        format!("{column} is longer than {max} characters ({chars})"),
    ))
}

/// A mandatory identifier: non-empty after trimming.
pub fn id<'r>(record: &'r ByteRecord, index: usize, column: &str) -> Result<&'r str, Invalid> {
    let value = text(record, index, column)?;
    if value.is_empty() {
        return Err(Invalid::new(column, format!("{column} is empty")));
    }
    Ok(value)
}

/// A currency code: exactly three ASCII letters (compare case-insensitively).
pub fn currency<'r>(
    record: &'r ByteRecord,
    index: usize,
    column: &str,
) -> Result<&'r str, Invalid> {
    let value = text(record, index, column)?;
    if value.is_empty() {
        return Err(Invalid::new(column, format!("{column} is empty")));
    }
    if value.len() != 3 || !value.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(Invalid::new(
            column,
            format!("{column} `{value}` is not a 3-letter code"),
        ));
    }
    Ok(value)
}

/// A quantity: a whole number >= 1.
pub fn qty(value: &str, column: impl std::fmt::Display) -> Result<i64, Invalid> {
    let value = value.trim();
    let digits = value.strip_prefix('-').unwrap_or(value);
    let reason = if value.is_empty() {
        format!("{column} is empty")
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        match value.parse::<i64>() {
            Ok(qty) if qty >= 1 => return Ok(qty),
            Ok(_) => format!("{column} must be at least 1"),
            Err(_) => format!("{column} `{value}` is too large"),
        }
    } else if digits
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        format!("{column} `{value}` must be a whole number")
    } else {
        format!("{column} `{value}` is not a number")
    };
    Err(Invalid::new(column.to_string(), reason))
}

/// `YYYY-MM-DD HH:MM:SS` (taken as UTC) or RFC 3339 with an offset.
pub fn placed_at(value: &str, column: &str) -> Result<DateTime<Utc>, Invalid> {
    if value.is_empty() {
        return Err(Invalid::new(column, format!("{column} is empty")));
    }
    let plain = parse_plain(value)
        .or_else(|| NaiveDateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S").ok());
    if let Some(naive) = plain {
        return Ok(naive.and_utc());
    }
    DateTime::parse_from_rfc3339(value)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| {
            Invalid::new(
                column,
                format!(
                    "{column} `{value}` is not a date (expected YYYY-MM-DD HH:MM:SS or RFC 3339)"
                ),
            )
        })
}

/// Fast path for exactly `YYYY-MM-DD HH:MM:SS` (chrono's format parser is a
/// tenth of the items-format parse time); anything else falls back to chrono.
fn parse_plain(value: &str) -> Option<NaiveDateTime> {
    let b = value.as_bytes();
    let shape = b.len() == 19
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':';
    if !shape {
        return None;
    }
    let num = |from: usize, to: usize| {
        b.get(from..to)?.iter().try_fold(0u32, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let year = i32::try_from(num(0, 4)?).ok()?;
    NaiveDate::from_ymd_opt(year, num(5, 7)?, num(8, 10)?)?.and_hms_opt(
        num(11, 13)?,
        num(14, 16)?,
        num(17, 19)?,
    )
}

/// The SKU given to a product known only by name (orders format).
///
/// Rule: lowercase; letters and digits (any script) kept; every run of other
/// characters becomes one `-`; no leading or trailing `-`.
/// `"Smart Access Point"` → `smart-access-point`, `"USB-C 20W"` → `usb-c-20w`.
/// Names differing only in case or punctuation therefore share a product.
#[must_use]
pub fn slug(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        // ASCII first: the Unicode tables cost ~10% of an orders-format parse.
        let keep = if c.is_ascii() {
            c.is_ascii_alphanumeric()
        } else {
            c.is_alphanumeric()
        };
        if !keep {
            dash = true;
            continue;
        }
        if dash && !slug.is_empty() {
            slug.push('-');
        }
        dash = false;
        if c.is_ascii() {
            slug.push(c.to_ascii_lowercase());
        } else {
            slug.extend(c.to_lowercase());
        }
    }
    slug
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(cells: &[&str]) -> ByteRecord {
        ByteRecord::from(cells.to_vec())
    }

    #[test]
    fn ids_are_trimmed_and_required() {
        let r = rec(&["  ORD-1 ", "  "]);
        assert_eq!(id(&r, 0, "order_id"), Ok("ORD-1"));
        assert_eq!(
            id(&r, 1, "order_id").unwrap_err().reason,
            "order_id is empty"
        );
        let bad = ByteRecord::from(vec![&b"\xff\xfe"[..]]);
        assert_eq!(
            id(&bad, 0, "order_id").unwrap_err().reason,
            "order_id is not valid UTF-8"
        );
    }

    #[test]
    fn currencies() {
        let r = rec(&["eur", "", "EURO", "E1R"]);
        assert_eq!(currency(&r, 0, "currency"), Ok("eur"));
        assert_eq!(
            currency(&r, 1, "currency").unwrap_err().reason,
            "currency is empty"
        );
        assert_eq!(
            currency(&r, 2, "currency").unwrap_err().reason,
            "currency `EURO` is not a 3-letter code"
        );
        assert!(currency(&r, 3, "currency").is_err());
    }

    #[test]
    fn quantities() {
        assert_eq!(qty(" 3 ", "qty"), Ok(3));
        let refused = [
            ("0", "qty must be at least 1"),
            ("-2", "qty must be at least 1"),
            ("1.5", "qty `1.5` must be a whole number"),
            ("1e2", "qty `1e2` must be a whole number"),
            ("two", "qty `two` is not a number"),
            ("", "qty is empty"),
            (
                "99999999999999999999",
                "qty `99999999999999999999` is too large",
            ),
        ];
        for (text, reason) in refused {
            assert_eq!(qty(text, "qty").unwrap_err().reason, reason, "{text}");
        }
    }

    #[test]
    fn dates_in_both_accepted_shapes() {
        let plain = placed_at("2025-10-27 16:12:00", "order_placed_at").unwrap();
        assert_eq!(plain.to_rfc3339(), "2025-10-27T16:12:00+00:00");
        let offset = placed_at("2025-10-27T18:12:00+02:00", "order_placed_at").unwrap();
        assert_eq!(offset, plain);
        assert_eq!(
            placed_at("2025-10-27T16:12:00Z", "order_placed_at").unwrap(),
            plain
        );
        for bad in [
            "2025-13-01 00:00:00",
            "2025-02-30 10:00:00",
            "27/10/2025",
            "2025-10-27",
            "yesterday",
        ] {
            let err = placed_at(bad, "order_placed_at").unwrap_err();
            assert!(
                err.reason.contains("is not a date"),
                "{bad}: {}",
                err.reason
            );
        }
        assert_eq!(
            placed_at("", "order_placed_at").unwrap_err().reason,
            "order_placed_at is empty"
        );
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Laptop"), "laptop");
        assert_eq!(slug("Smart Access Point"), "smart-access-point");
        assert_eq!(slug("  USB-C 20W  Charger! "), "usb-c-20w-charger");
        assert_eq!(slug("Café Crème"), "café-crème");
        assert_eq!(slug("!!!"), "");
    }
}
