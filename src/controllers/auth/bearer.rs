//! The `Authorization: Bearer` credential, from `settings.api.tokens` (env `API_TOKENS`).
//!
//! One `Authorization` header, the scheme `Bearer` (any case, RFC 9110 §11.1),
//! one space, then exactly a configured token: nothing is trimmed, so a token
//! sent with spaces or tabs around it is not the token and gets 401.

/// The token of the one `Authorization: Bearer <token>` header, as sent.
#[must_use]
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
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
