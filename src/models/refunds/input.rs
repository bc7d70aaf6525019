//! What a refund request says, checked before anything is written.
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::error::RefundError;
use crate::models::money::{parse_cents, parse_decimal_cents, MoneyError};

/// Longest accepted `reason`, in characters.
pub const MAX_REASON_CHARS: usize = 1_000;

/// A client's `Idempotency-Key`: 1–255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Checks the raw header value (`None` when the header is absent).
    ///
    /// # Errors
    /// [`RefundError::MissingKey`] or [`RefundError::InvalidKey`].
    pub fn parse(raw: Option<&str>) -> Result<Self, RefundError> {
        let raw = raw.ok_or(RefundError::MissingKey)?;
        let visible = raw.bytes().all(|b| b.is_ascii_graphic());
        if raw.is_empty() || raw.len() > 255 || !visible {
            return Err(RefundError::InvalidKey);
        }
        Ok(Self(raw.to_string()))
    }

    /// A fresh random key, for callers that did not bring one (the CLI).
    #[must_use]
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A valid refund request: a positive amount in cents and an optional reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundInput {
    pub amount_cents: i64,
    pub reason: Option<String>,
}

/// The JSON body; amounts are kept as raw text so no float ever sees them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body<'a> {
    #[serde(borrow, default)]
    amount_cents: Option<&'a RawValue>,
    #[serde(borrow, default)]
    amount: Option<&'a RawValue>,
    #[serde(default)]
    reason: Option<String>,
}

impl RefundInput {
    /// Checks an amount and a reason (blank reasons are dropped).
    ///
    /// # Errors
    /// A zero or negative amount, or an overlong reason.
    pub fn new(amount_cents: i64, reason: Option<String>) -> Result<Self, RefundError> {
        if amount_cents < 1 {
            return Err(RefundError::InvalidAmount(
                "the amount must be at least 0.01 (1 cent)".to_string(),
            ));
        }
        let reason = reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        if reason
            .as_ref()
            .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS)
        {
            return Err(RefundError::InvalidReason {
                max: MAX_REASON_CHARS,
            });
        }
        Ok(Self {
            amount_cents,
            reason,
        })
    }

    /// Reads `{"amount_cents": 5000}` or `{"amount": "50.00"}` / `{"amount": 50.0}`,
    /// with an optional `"reason"`. Anything else is refused.
    ///
    /// # Errors
    /// [`RefundError::InvalidBody`] for malformed JSON or unknown fields,
    /// [`RefundError::InvalidAmount`] for a missing, doubled or bad amount.
    pub fn from_json(body: &[u8]) -> Result<Self, RefundError> {
        // serde would also take a struct from an array: only an object will do.
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(RefundError::InvalidBody(
                "expected a JSON object with amount_cents or amount".to_string(),
            ));
        }
        let body: Body<'_> =
            serde_json::from_slice(body).map_err(|e| RefundError::InvalidBody(e.to_string()))?;
        let amount_cents = match (body.amount_cents, body.amount) {
            (Some(cents), None) => cents_from_json(cents.get())?,
            (None, Some(amount)) => decimal_from_json(amount.get())?,
            (Some(_), Some(_)) => {
                return Err(RefundError::InvalidAmount(
                    "give amount_cents or amount, not both".to_string(),
                ))
            }
            (None, None) => {
                return Err(RefundError::InvalidAmount(
                    "amount_cents or amount is required".to_string(),
                ))
            }
        };
        Self::new(amount_cents, body.reason)
    }

    /// The request in one canonical form: `{"amount": "50.00"}` and
    /// `{"amount_cents": 5000}` are the same request.
    #[must_use]
    pub fn canonical(&self) -> String {
        serde_json::json!({ "amount_cents": self.amount_cents, "reason": self.reason }).to_string()
    }

    /// The digest stored on the idempotency key: method, target order, canonical body.
    #[must_use]
    pub fn request_hash(&self, target: &str) -> String {
        let mut digest = Sha256::new();
        for part in ["POST", target, &self.canonical()] {
            digest.update(part.as_bytes());
            digest.update([0]);
        }
        hex::encode(digest.finalize())
    }
}

/// `amount_cents`: a JSON integer, read from its text.
fn cents_from_json(raw: &str) -> Result<i64, RefundError> {
    if !raw.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        return Err(RefundError::InvalidAmount(
            "amount_cents must be a whole number of cents, as a JSON number".to_string(),
        ));
    }
    parse_amount_cents(raw, "amount_cents")
}

/// `amount`: a decimal with at most 2 places, as a JSON string or number,
/// read digit by digit from its text (`50.0` is never a float here).
fn decimal_from_json(raw: &str) -> Result<i64, RefundError> {
    let text = if raw.starts_with('"') {
        serde_json::from_str::<String>(raw).map_err(|e| RefundError::InvalidBody(e.to_string()))?
    } else if raw.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        raw.to_string()
    } else {
        return Err(RefundError::InvalidAmount(
            "amount must be a decimal number such as \"50.00\"".to_string(),
        ));
    };
    parse_amount(&text, "amount")
}

/// A refund amount in cents as the API and the CLI take it: digits only
/// (`5000`), no sign, no spaces, no leading zeros.
///
/// # Errors
/// [`RefundError::InvalidAmount`] saying what is wrong with `text`.
pub fn parse_amount_cents(text: &str, field: &str) -> Result<i64, RefundError> {
    plain(text, field, false)?;
    parse_cents(text).map_err(|e| amount_error(field, text, e))
}

/// A refund amount in major units: `50`, `50.5` or `50.00`, and nothing that
/// only looks like it. `" 1.00"`, `"00001.00"`, `"+1.00"`, `"1."`, `".5"` and
/// `"1e2"` are each a typo or a different convention, never a guess.
///
/// # Errors
/// [`RefundError::InvalidAmount`] saying what is wrong with `text`.
pub fn parse_amount(text: &str, field: &str) -> Result<i64, RefundError> {
    plain(text, field, true)?;
    parse_decimal_cents(text).map_err(|e| amount_error(field, text, e))
}

/// The spelling rules the parsers in `models::money` are lenient about (they
/// read files written by other programs; a person's request is read strictly).
fn plain(text: &str, field: &str, decimal: bool) -> Result<(), RefundError> {
    let why = if text.is_empty() {
        Some("is empty")
    } else if text.trim() != text {
        Some("has spaces around it")
    } else if text.starts_with('-') {
        Some("must be positive")
    } else if text.starts_with('+') {
        Some("must be written without a sign")
    } else if !text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        Some("is not a number")
    } else if text.contains(['e', 'E']) {
        Some("must be written without an exponent")
    } else {
        let (whole, fraction) = match text.split_once('.') {
            Some((whole, fraction)) if decimal => (whole, Some(fraction)),
            _ => (text, None),
        };
        if whole.is_empty() {
            Some("needs a digit before the decimal point")
        } else if fraction == Some("") {
            Some("needs a digit after the decimal point")
        } else if whole.len() > 1 && whole.starts_with('0') {
            Some("must be written without leading zeros")
        } else {
            None
        }
    };
    match why {
        Some(why) if text.is_empty() => Err(RefundError::InvalidAmount(format!("{field} {why}"))),
        Some(why) => Err(RefundError::InvalidAmount(format!(
            "{field} {why}, got `{}`",
            clip(text)
        ))),
        None => Ok(()),
    }
}

fn amount_error(field: &str, text: &str, error: MoneyError) -> RefundError {
    let why = match error {
        MoneyError::Negative => "must be positive",
        MoneyError::TooManyDecimals => "has more than 2 decimal places",
        MoneyError::NotWholeCents => "must be a whole number of cents",
        MoneyError::Exponent => "must be written without an exponent",
        MoneyError::Overflow => "is too large",
        MoneyError::Empty | MoneyError::Invalid => "is not a number",
    };
    RefundError::InvalidAmount(format!("{field} {why}, got `{}`", clip(text)))
}

/// A value echoed in a refusal, cut to a readable length.
fn clip(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cents(body: &str) -> Result<i64, String> {
        RefundInput::from_json(body.as_bytes())
            .map(|i| i.amount_cents)
            .map_err(|e| format!("{}: {e}", e.code()))
    }

    #[test]
    fn amounts_are_exact() {
        assert_eq!(cents(r#"{"amount_cents": 5000}"#), Ok(5_000));
        assert_eq!(cents(r#"{"amount": "50.00"}"#), Ok(5_000));
        assert_eq!(cents(r#"{"amount": 50.0}"#), Ok(5_000));
        assert_eq!(cents(r#"{"amount": 0.29}"#), Ok(29));
        assert_eq!(cents(r#"{"amount": "19.99", "reason": "late"}"#), Ok(1_999));
        assert_eq!(cents(r#"{"amount_cents": 1, "amount": null}"#), Ok(1));
        assert_eq!(cents(r#"{"amount": "0.5"}"#), Ok(50));
        assert_eq!(cents(r#"{"amount": "10"}"#), Ok(1_000));
        assert_eq!(cents(r#"{"amount_cents":  7 }"#), Ok(7));
        assert_eq!(cents(r#"{"amount": "92233720368547758.07"}"#), Ok(i64::MAX));
        assert_eq!(
            cents(r#"{"amount_cents": 9223372036854775807}"#),
            Ok(i64::MAX)
        );
    }

    #[test]
    fn bad_amounts_are_refused_with_a_reason() {
        for (body, code) in [
            (r#"{"amount_cents": 0}"#, "invalid_amount"),
            (r#"{"amount_cents": -5}"#, "invalid_amount"),
            (r#"{"amount_cents": 50.5}"#, "invalid_amount"),
            (r#"{"amount_cents": "5000"}"#, "invalid_amount"),
            (r#"{"amount_cents": 1e3}"#, "invalid_amount"),
            (
                r#"{"amount_cents": 99999999999999999999}"#,
                "invalid_amount",
            ),
            (r#"{"amount": "0.00"}"#, "invalid_amount"),
            (r#"{"amount": "-1.00"}"#, "invalid_amount"),
            (r#"{"amount": "1.999"}"#, "invalid_amount"),
            (r#"{"amount": 1.001}"#, "invalid_amount"),
            (r#"{"amount": "ten"}"#, "invalid_amount"),
            (r#"{"amount": true}"#, "invalid_amount"),
            (r#"{"amount": [1]}"#, "invalid_amount"),
            (
                r#"{"amount_cents": 100, "amount": "1.00"}"#,
                "invalid_amount",
            ),
            (r#"{"reason": "no amount"}"#, "invalid_amount"),
            (
                r#"{"amount_cents": 100, "currency": "EUR"}"#,
                "invalid_body",
            ),
            (r#"{"amount_cents": 100, "reason": 5}"#, "invalid_body"),
            (r#"{"amount_cents": 100"#, "invalid_body"),
            ("[100]", "invalid_body"),
            ("[100, null, null]", "invalid_body"),
            ("null", "invalid_body"),
            ("", "invalid_body"),
            (r#"{"amount": " 1.00"}"#, "invalid_amount"),
            (r#"{"amount": "1.00 "}"#, "invalid_amount"),
            (r#"{"amount": "00000000001.00"}"#, "invalid_amount"),
            (r#"{"amount": "01"}"#, "invalid_amount"),
            (r#"{"amount": "1."}"#, "invalid_amount"),
            (r#"{"amount": ".5"}"#, "invalid_amount"),
            (r#"{"amount": "+1.00"}"#, "invalid_amount"),
            (r#"{"amount": "1e2"}"#, "invalid_amount"),
            (r#"{"amount": 1e2}"#, "invalid_amount"),
            (r#"{"amount": "1,00"}"#, "invalid_amount"),
            (r#"{"amount": "92233720368547758.08"}"#, "invalid_amount"),
        ] {
            let got = cents(body);
            assert!(
                got.as_ref().is_err_and(|e| e.starts_with(code)),
                "{body} → {got:?}"
            );
        }
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        for (text, why) in [
            (" 1.00", "has spaces around it"),
            ("00000000001.00", "without leading zeros"),
            ("1.", "a digit after the decimal point"),
            (".5", "a digit before the decimal point"),
            ("+1.00", "without a sign"),
            ("1e2", "without an exponent"),
            ("-1", "must be positive"),
            ("1.234", "more than 2 decimal places"),
            ("ten euros", "is not a number"),
            ("1,00", "is not a number"),
        ] {
            let got = parse_amount(text, "amount").map_err(|e| e.to_string());
            assert!(
                got.as_ref().is_err_and(|e| e.contains(why)),
                "{text:?}: {got:?}"
            );
        }
        for text in ["0050", " 50", "50 ", "+50", "5e1", "50.0", ""] {
            assert!(
                parse_amount_cents(text, "amount_cents").is_err(),
                "{text:?}"
            );
        }
        assert_eq!(parse_amount_cents("50", "amount_cents").ok(), Some(50));
    }

    #[test]
    fn the_same_request_in_two_spellings_has_one_hash() {
        let a = RefundInput::from_json(br#"{"amount": "50.00", "reason": " late "}"#).unwrap();
        let b = RefundInput::from_json(br#"{"reason": "late", "amount_cents": 5000}"#).unwrap();
        assert_eq!(a.request_hash("order:1"), b.request_hash("order:1"));
        assert_ne!(a.request_hash("order:1"), a.request_hash("order:2"));
        let c = RefundInput::from_json(br#"{"amount_cents": 5001, "reason": "late"}"#).unwrap();
        assert_ne!(a.request_hash("order:1"), c.request_hash("order:1"));
    }

    #[test]
    fn keys_are_visible_ascii() {
        assert!(IdempotencyKey::parse(Some("abc-123_~!")).is_ok());
        assert!(IdempotencyKey::parse(Some(&"k".repeat(255))).is_ok());
        for bad in ["", "has space", "tab\t", "é", &"k".repeat(256)] {
            assert!(
                matches!(
                    IdempotencyKey::parse(Some(bad)),
                    Err(RefundError::InvalidKey)
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            IdempotencyKey::parse(None),
            Err(RefundError::MissingKey)
        ));
    }
}
