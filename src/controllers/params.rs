//! Query-string values shared by the API and the pages.
use std::{collections::HashMap, fmt::Display, ops::RangeInclusive, str::FromStr};

use axum::http::StatusCode;

use super::error::ApiError;

/// `name` as a whole number within `range`, or `default` when absent; anything
/// else is a 400 with `code` that says what is allowed.
///
/// # Errors
/// A value that does not parse or lies outside `range`.
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
    raw.parse::<T>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                code,
                format!(
                    "`{name}` must be a whole number from {} to {}, got `{raw}`",
                    range.start(),
                    range.end()
                ),
            )
        })
}
