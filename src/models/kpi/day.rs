//! The one way a day is written in the API and the tasks: `YYYY-MM-DD`.
//!
//! chrono's `%Y` also takes `+2025`, `-0001`, `0000` and years of five digits
//! and more; each of those would name a day nobody meant (`+2025-01-01` read
//! as 2025, the year 0 of the proleptic calendar). Here a day is exactly ten
//! characters: a four-digit year from 0001 to 9999, a two-digit month and day
//! that exist in that year. The import reads order dates with four-digit years
//! too, so every day that can hold figures can be asked for.
use chrono::NaiveDate;

/// Why a day was refused; the caller adds the name and the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DayError {
    #[error("must be a date written YYYY-MM-DD")]
    Shape,
    #[error("must have a year from 0001 to 9999")]
    Year,
    #[error("is not a day of the calendar")]
    NoSuchDay,
}

/// Reads `YYYY-MM-DD`.
///
/// # Errors
/// [`DayError`]: the wrong shape, the year 0000, or a day that does not exist.
pub fn parse(raw: &str) -> Result<NaiveDate, DayError> {
    let b = raw.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b[range].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(DayError::Shape);
    }
    let (Some(year), Some(month), Some(day)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return Err(DayError::Shape);
    };
    if year == 0 {
        return Err(DayError::Year);
    }
    let year = i32::try_from(year).map_err(|_| DayError::Year)?;
    NaiveDate::from_ymd_opt(year, month, day).ok_or(DayError::NoSuchDay)
}

/// The day as the API writes it, and as the Redis keys hold it.
#[must_use]
pub fn format(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip() {
        for raw in ["2025-10-27", "0001-01-01", "9999-12-31", "2024-02-29"] {
            assert_eq!(parse(raw).map(format).as_deref(), Ok(raw));
        }
    }

    #[test]
    fn everything_else_is_refused() {
        for (raw, why) in [
            ("0000-01-01", DayError::Year),
            ("-0001-01-01", DayError::Shape),
            ("+2025-01-01", DayError::Shape),
            ("12025-01-01", DayError::Shape),
            ("2025-1-01", DayError::Shape),
            ("2025-01-1", DayError::Shape),
            (" 2025-01-01", DayError::Shape),
            ("2025-01-01 ", DayError::Shape),
            ("2025/01/01", DayError::Shape),
            ("2025-+1-01", DayError::Shape),
            ("２０２５-01-01", DayError::Shape),
            ("", DayError::Shape),
            ("2025-02-29", DayError::NoSuchDay),
            ("2025-13-01", DayError::NoSuchDay),
            ("2025-00-10", DayError::NoSuchDay),
            ("2025-01-32", DayError::NoSuchDay),
        ] {
            assert_eq!(parse(raw), Err(why), "{raw:?}");
        }
    }
}
