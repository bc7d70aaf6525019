//! Bearer tokens for write routes, from `settings.api.tokens` (env `API_TOKENS`).
use axum::{extract::FromRequestParts, http::request::Parts};
use loco_rs::app::AppContext;

use super::error::ApiError;
use crate::workers::Services;

/// A request that presented one of the configured tokens.
#[derive(Debug, Clone)]
pub struct ApiToken {
    /// A stable, non-secret name for the token (idempotency keys are scoped to it).
    pub scope: String,
}

impl FromRequestParts<AppContext> for ApiToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, ctx: &AppContext) -> Result<Self, ApiError> {
        let presented = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(ApiError::unauthorized)?;
        let services = Services::of(ctx)?;
        let tokens = services.settings.api.tokens();
        // Check every token, always: the time taken says nothing about which matched.
        let mut matched = None;
        for (index, token) in tokens.iter().enumerate() {
            if constant_time_eq(presented.as_bytes(), token.as_bytes()) {
                matched = Some(index);
            }
        }
        matched
            .map(|index| Self {
                scope: format!("token-{index}"),
            })
            .ok_or_else(ApiError::unauthorized)
    }
}

/// Compares two byte strings in time that depends only on their lengths.
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let len = a.len().max(b.len());
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..len {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn equal_only_when_identical() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}
