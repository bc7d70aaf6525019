//! Bearer tokens for write routes, from `settings.api.tokens` (env `API_TOKENS`).
//!
//! One `Authorization` header, the scheme `Bearer` (any case, RFC 9110 §11.1),
//! one space, then exactly a configured token: nothing is trimmed, so a token
//! sent with spaces or tabs around it is not the token and gets 401.
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
        let presented = bearer(&parts.headers).ok_or_else(ApiError::unauthorized)?;
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

/// The token of the one `Authorization: Bearer <token>` header, as sent.
fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(axum::http::header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return None;
    };
    let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
    let visible = !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic());
    (scheme.eq_ignore_ascii_case("bearer") && visible).then_some(token)
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
    use axum::http::{header::AUTHORIZATION, HeaderMap, HeaderValue};

    use super::{bearer, constant_time_eq};

    fn presented(values: &[&str]) -> Option<String> {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        bearer(&headers).map(str::to_string)
    }

    #[test]
    fn the_token_is_taken_as_sent() {
        assert_eq!(presented(&["Bearer abc"]).as_deref(), Some("abc"));
        assert_eq!(presented(&["bearer abc"]).as_deref(), Some("abc"));
        assert_eq!(presented(&["BEARER abc"]).as_deref(), Some("abc"));
        for bad in [
            "Bearer  abc",
            "Bearer abc ",
            "Bearer abc\t",
            "Bearer \tabc",
            "Bearer a bc",
            "Bearer ",
            "Bearer",
            "Basic abc",
            "Bearerabc",
            "abc",
        ] {
            assert_eq!(presented(&[bad]), None, "{bad:?}");
        }
        assert_eq!(presented(&[]), None);
        assert_eq!(presented(&["Bearer abc", "Bearer abc"]), None);
    }

    #[test]
    fn equal_only_when_identical() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}
