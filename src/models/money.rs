//! Exact money parsing and formatting in integer cents.
//!
//! Amounts are read from their text form digit by digit, so no binary
//! floating point is ever involved (`0.1 + 0.2` problems cannot happen).

use std::fmt;

/// Why an amount could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The cell is empty or only whitespace.
    #[error("amount is empty")]
    Empty,
    /// A leading minus sign: amounts in order files are never negative.
    #[error("amount is negative")]
    Negative,
    /// More than two digits after the decimal point.
    #[error("amount has more than 2 decimals")]
    TooManyDecimals,
    /// Scientific notation such as `1e3`.
    #[error("amount uses exponent notation")]
    Exponent,
    /// A fraction where whole cents are expected.
    #[error("amount must be a whole number of cents")]
    NotWholeCents,
    /// Anything that is not a plain decimal number.
    #[error("amount is not a number")]
    Invalid,
    /// Too large to be held in cents as an `i64`.
    #[error("amount is too large")]
    Overflow,
}

/// Parses a decimal amount in major units (`199.99`, `999`, `299.5`) into cents.
///
/// # Errors
/// Empty, negative, non-numeric, exponent, more than two decimals, overflow.
pub fn parse_decimal_cents(text: &str) -> Result<i64, MoneyError> {
    let text = precheck(text)?;
    let (whole, frac) = match text.split_once('.') {
        Some((whole, frac)) => (whole, Some(frac)),
        None => (text, None),
    };
    let whole = parse_digits(whole)?;
    let frac_cents = match frac {
        None => 0,
        Some(frac) if frac.len() > 2 && frac.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(MoneyError::TooManyDecimals)
        }
        // "12." is rejected: a dangling point is more likely a typo than a value.
        Some("") => return Err(MoneyError::Invalid),
        Some(frac) => {
            let digits = parse_digits(frac)?;
            if frac.len() == 1 {
                digits * 10
            } else {
                digits
            }
        }
    };
    whole
        .checked_mul(100)
        .and_then(|cents| cents.checked_add(frac_cents))
        .ok_or(MoneyError::Overflow)
}

/// Parses a non-negative whole number of cents (`109900`).
///
/// # Errors
/// Empty, negative, fractional, non-numeric, overflow.
pub fn parse_cents(text: &str) -> Result<i64, MoneyError> {
    let text = precheck(text)?;
    if text.contains('.') {
        return Err(MoneyError::NotWholeCents);
    }
    parse_digits(text)
}

/// Formats cents as a decimal amount: `154848` → `"1548.48"`, `-5` → `"-0.05"`.
#[must_use]
pub fn format_cents(cents: i64) -> String {
    DisplayCents(cents).to_string()
}

/// Displays cents as a decimal amount without allocating (for hot writers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplayCents(pub i64);

impl fmt::Display for DisplayCents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // unsigned_abs keeps i64::MIN printable.
        let abs = self.0.unsigned_abs();
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// Trims and classifies the sign/exponent mistakes shared by both parsers.
fn precheck(text: &str) -> Result<&str, MoneyError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(MoneyError::Empty);
    }
    if text.starts_with('-') {
        return Err(MoneyError::Negative);
    }
    let numeric_with_exponent = text.bytes().any(|b| b == b'e' || b == b'E')
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if numeric_with_exponent {
        return Err(MoneyError::Exponent);
    }
    Ok(text)
}

/// Parses one or more ASCII digits, with overflow detection.
fn parse_digits(digits: &str) -> Result<i64, MoneyError> {
    if digits.is_empty() {
        return Err(MoneyError::Invalid);
    }
    digits.bytes().try_fold(0i64, |acc, b| {
        if !b.is_ascii_digit() {
            return Err(MoneyError::Invalid);
        }
        acc.checked_mul(10)
            .and_then(|acc| acc.checked_add(i64::from(b - b'0')))
            .ok_or(MoneyError::Overflow)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_amounts_become_exact_cents() {
        assert_eq!(parse_decimal_cents("199.99"), Ok(19_999));
        assert_eq!(parse_decimal_cents("999"), Ok(99_900));
        assert_eq!(parse_decimal_cents("299.5"), Ok(29_950));
        assert_eq!(parse_decimal_cents("0.00"), Ok(0));
        assert_eq!(parse_decimal_cents("  19.99 "), Ok(1_999));
        assert_eq!(parse_decimal_cents("007.05"), Ok(705));
        assert_eq!(parse_decimal_cents("0.1"), Ok(10));
    }

    #[test]
    fn bad_decimal_amounts_are_rejected_with_a_reason() {
        assert_eq!(parse_decimal_cents(""), Err(MoneyError::Empty));
        assert_eq!(parse_decimal_cents("   "), Err(MoneyError::Empty));
        assert_eq!(parse_decimal_cents("-1.00"), Err(MoneyError::Negative));
        assert_eq!(parse_decimal_cents("-0"), Err(MoneyError::Negative));
        assert_eq!(
            parse_decimal_cents("1.999"),
            Err(MoneyError::TooManyDecimals)
        );
        assert_eq!(
            parse_decimal_cents("1.000"),
            Err(MoneyError::TooManyDecimals)
        );
        assert_eq!(parse_decimal_cents("1e3"), Err(MoneyError::Exponent));
        assert_eq!(parse_decimal_cents("1.5E2"), Err(MoneyError::Exponent));
        for garbage in [
            "abc", "1,000.00", "12.", ".5", "+5", "1.2.3", "1. 5", "$5", "NaN", "1.x", "free",
            "inf",
        ] {
            assert_eq!(
                parse_decimal_cents(garbage),
                Err(MoneyError::Invalid),
                "{garbage}"
            );
        }
    }

    #[test]
    fn decimal_overflow_is_detected_at_the_edge() {
        // i64::MAX cents = 92233720368547758.07
        assert_eq!(parse_decimal_cents("92233720368547758.07"), Ok(i64::MAX));
        assert_eq!(
            parse_decimal_cents("92233720368547758.08"),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            parse_decimal_cents("99999999999999999999"),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn integer_cents() {
        assert_eq!(parse_cents("109900"), Ok(109_900));
        assert_eq!(parse_cents(" 0 "), Ok(0));
        assert_eq!(parse_cents("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(
            parse_cents("9223372036854775808"),
            Err(MoneyError::Overflow)
        );
        assert_eq!(parse_cents("19.98"), Err(MoneyError::NotWholeCents));
        assert_eq!(parse_cents("-5"), Err(MoneyError::Negative));
        assert_eq!(parse_cents(""), Err(MoneyError::Empty));
        assert_eq!(parse_cents("1e5"), Err(MoneyError::Exponent));
        assert_eq!(parse_cents("12a"), Err(MoneyError::Invalid));
    }

    #[test]
    fn formatting() {
        assert_eq!(format_cents(154_848), "1548.48");
        assert_eq!(format_cents(-5), "-0.05");
        assert_eq!(format_cents(0), "0.00");
        assert_eq!(format_cents(100), "1.00");
        assert_eq!(format_cents(i64::MIN), "-92233720368547758.08");
    }

    #[test]
    fn formatting_round_trips() {
        for cents in [0, 1, 10, 99, 100, 12_345, 99_999, i64::MAX] {
            assert_eq!(parse_decimal_cents(&format_cents(cents)), Ok(cents));
        }
    }
}
