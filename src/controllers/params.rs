//! Query strings and their values, read the same strict way by the API and the pages.
//!
//! A query string is refused whole (400 `invalid_query`) when a name is not one
//! the route takes (a typo such as `dat=` would otherwise silently give today's
//! figures), a name comes twice (which one would count?), or a name or value is
//! not UTF-8 once percent-decoded.
use std::{collections::HashMap, fmt::Display, ops::RangeInclusive, str::FromStr};

use axum::{
    extract::FromRequestParts,
    http::{request::Parts, StatusCode},
};
use chrono::NaiveDate;

use super::error::ApiError;
use crate::models::kpi::day;

/// The query string's parameters, checked against the names a route takes.
///
/// # Errors
/// 400 `invalid_query` naming the first problem.
pub fn query(raw: Option<&str>, allowed: &[&str]) -> Result<HashMap<String, String>, ApiError> {
    let mut params = HashMap::new();
    for pair in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, value) = (decode(name)?, decode(value)?);
        if !allowed.contains(&name.as_str()) {
            return Err(invalid_query(format!(
                "unknown parameter `{}`; this route takes {}",
                clip(&name),
                list(allowed)
            )));
        }
        if params.contains_key(&name) {
            return Err(invalid_query(format!(
                "`{}` is given more than once",
                clip(&name)
            )));
        }
        params.insert(name, value);
    }
    Ok(params)
}

/// The extractor of a route that takes no query string: any is refused as
/// [`query`] refuses it.
pub struct NoQuery;

impl<S: Send + Sync> FromRequestParts<S> for NoQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        query(parts.uri.query(), &[]).map(|_| Self)
    }
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        return "no parameters".to_string();
    }
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte,
/// and the bytes must be UTF-8.
fn decode(text: &str) -> Result<String, ApiError> {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| invalid_query("the query string is not UTF-8 once decoded".to_string()))
}

fn invalid_query(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message)
}

/// `name` as a whole number within `range`, or `default` when absent; anything
/// else (a sign, spaces, leading zeros, a number out of range) is a 400 with
/// `code` that says what is allowed.
///
/// # Errors
/// A value that is not written in plain digits or lies outside `range`.
pub fn bounded<T>(
    params: &HashMap<String, String>,
    name: &str,
    default: T,
    range: RangeInclusive<T>,
    code: &'static str,
) -> Result<T, ApiError>
where
    T: FromStr + PartialOrd + Display,
{
    let Some(raw) = params.get(name) else {
        return Ok(default);
    };
    // `+5`, ` 5` and `05` parse, but nobody writes them on purpose.
    let plain = raw == "0" || (raw.bytes().all(|b| b.is_ascii_digit()) && !raw.starts_with('0'));
    plain
        .then(|| raw.parse::<T>().ok())
        .flatten()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                code,
                format!(
                    "`{name}` must be a whole number from {} to {}, got `{}`",
                    range.start(),
                    range.end(),
                    clip(raw)
                ),
            )
        })
}

/// A numeric id in a path, written as plain digits: `7`, not `+7`, `07` or ` 7`.
#[must_use]
pub fn plain_id(raw: &str) -> Option<i64> {
    let digits = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
    (digits && !raw.starts_with('0'))
        .then(|| raw.parse().ok())
        .flatten()
}

/// `name` as a day (`YYYY-MM-DD`, the rule of [`day::parse`]), if given.
///
/// # Errors
/// 400 `invalid_date` with the reason.
pub fn date(params: &HashMap<String, String>, name: &str) -> Result<Option<NaiveDate>, ApiError> {
    params
        .get(name)
        .map(|raw| {
            day::parse(raw).map_err(|why| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_date",
                    format!("`{name}` {why}, got `{}`", clip(raw)),
                )
            })
        })
        .transpose()
}

/// A value echoed in a message, cut to a readable length.
#[must_use]
pub fn clip(raw: &str) -> String {
    match raw.char_indices().nth(40) {
        Some((at, _)) => format!("{}…", &raw[..at]),
        None => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: &str) -> Result<Vec<(String, String)>, String> {
        query(Some(raw), &["date", "limit"])
            .map(|p| {
                let mut pairs: Vec<_> = p.into_iter().collect();
                pairs.sort();
                pairs
            })
            .map_err(|e| e.message)
    }

    #[test]
    fn names_values_and_their_encoding() {
        assert_eq!(
            parsed("date=2025-10-27&limit=5"),
            Ok(vec![
                ("date".into(), "2025-10-27".into()),
                ("limit".into(), "5".into())
            ])
        );
        assert_eq!(
            parsed("date=a+b%20c"),
            Ok(vec![("date".into(), "a b c".into())])
        );
        assert_eq!(parsed(""), Ok(vec![]));
        assert_eq!(parsed("&&"), Ok(vec![]));
        assert_eq!(parsed("limit"), Ok(vec![("limit".into(), String::new())]));
    }

    #[test]
    fn unknown_repeated_and_undecodable_names_are_refused() {
        for (raw, why) in [
            ("dat=2025-10-27", "unknown parameter `dat`"),
            ("date=1&date=2", "`date` is given more than once"),
            ("date=%FF", "not UTF-8"),
            ("%FF=1", "not UTF-8"),
        ] {
            let got = parsed(raw);
            assert!(
                got.as_ref().is_err_and(|e| e.contains(why)),
                "{raw}: {got:?}"
            );
        }
    }

    #[test]
    fn ids_are_plain_digits() {
        assert_eq!(plain_id("7"), Some(7));
        assert_eq!(plain_id("9223372036854775807"), Some(i64::MAX));
        for bad in [
            "",
            "0",
            "07",
            "+7",
            "-7",
            " 7",
            "7 ",
            "9223372036854775808",
            "7a",
        ] {
            assert_eq!(plain_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn numbers_are_plain_digits() {
        let one = |v: &str| HashMap::from([("limit".to_string(), v.to_string())]);
        let limit = |v: &str| bounded(&one(v), "limit", 10, 1..=100, "invalid_limit");
        assert_eq!(limit("7").ok(), Some(7));
        assert_eq!(limit("100").ok(), Some(100));
        for bad in ["0", "101", "+5", " 5", "5 ", "05", "-1", "", "5.0", "1e2"] {
            assert!(limit(bad).is_err(), "{bad:?}");
        }
        let huge = "9".repeat(10_000);
        let err = limit(&huge).unwrap_err();
        assert!(err.message.len() < 200, "{}", err.message);
    }
}
