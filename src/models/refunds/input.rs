//! What a refund request says, checked before anything is written.
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::RefundError;
use crate::models::import::money::{parse_cents, parse_decimal_cents, MoneyError};

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
    parse_cents(raw).map_err(|e| amount_error("amount_cents", e))
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
    parse_decimal_cents(&text).map_err(|e| amount_error("amount", e))
}

fn amount_error(field: &str, error: MoneyError) -> RefundError {
    let why = match error {
        MoneyError::Negative => "must be positive".to_string(),
        MoneyError::TooManyDecimals => "has more than 2 decimal places".to_string(),
        MoneyError::NotWholeCents => "must be a whole number of cents".to_string(),
        MoneyError::Exponent => "must be written without an exponent".to_string(),
        MoneyError::Overflow => "is too large".to_string(),
        MoneyError::Empty | MoneyError::Invalid => "is not a number".to_string(),
    };
    RefundError::InvalidAmount(format!("{field} {why}"))
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
        ] {
            let got = cents(body);
            assert!(
                got.as_ref().is_err_and(|e| e.starts_with(code)),
                "{body} → {got:?}"
            );
        }
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
