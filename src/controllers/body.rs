//! Request bodies are JSON, and say so.
//!
//! The routes that take a body read it as JSON themselves (to keep amounts as
//! text); this is the check axum's `Json` extractor would have made first:
//! `Content-Type: application/json` (a `charset` parameter or an
//! `application/…+json` type is fine). `curl -d` without `-H` sends a form
//! type: such a request is refused instead of guessed at.
use axum::http::{header, HeaderMap, StatusCode};

use super::error::ApiError;

/// Accepts `application/json` and `application/<something>+json`.
///
/// # Errors
/// 415 `unsupported_media_type` otherwise, or without a `Content-Type`.
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    let only = match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().ok(),
        _ => None,
    };
    let essence = only
        .and_then(|v| v.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase());
    let json = essence.as_deref().is_some_and(|t| {
        t == "application/json" || (t.starts_with("application/") && t.ends_with("+json"))
    });
    if json {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON, sent with `Content-Type: application/json`",
        ))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with(types: &[&str]) -> Result<(), ApiError> {
        let mut headers = HeaderMap::new();
        for t in types {
            headers.append(header::CONTENT_TYPE, HeaderValue::from_str(t).unwrap());
        }
        require_json(&headers)
    }

    #[test]
    fn json_types_only() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/merge-patch+json",
        ] {
            assert!(with(&[ok]).is_ok(), "{ok}");
        }
        for bad in [
            &[][..],
            &["application/x-www-form-urlencoded"],
            &["text/plain"],
            &["text/json"],
            &["application/jsonx"],
            &["application/json", "application/json"],
        ] {
            assert_eq!(
                with(bad).map_err(|e| e.status),
                Err(StatusCode::UNSUPPORTED_MEDIA_TYPE),
                "{bad:?}"
            );
        }
    }
}
