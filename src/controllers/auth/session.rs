//! The console's browser session: one private cookie (AES-GCM: encrypted and
//! authenticated by the `cookie` crate, the key derived from
//! `settings.console.secret_key` with HKDF), `HttpOnly`, `SameSite=Strict`.
//!
//! It names the API token the operator logged in with by its SHA-256 (never the
//! token), so removing a token from the config ends its sessions, and it
//! carries its own expiry (checked on every request, whatever the browser keeps)
//! and the CSRF token the console's forms and `fetch` calls must send back.
//! Its id is also a Redis key that lives as long as the session: logout deletes
//! it, so a copied cookie is dead after logout, not only after expiry.
use axum::http::HeaderMap;
use axum_extra::extract::cookie::{Cookie, Key, PrivateCookieJar, SameSite};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// The session cookie.
pub const SESSION_COOKIE: &str = "orders_flow_session";
/// The login form's CSRF cookie (lives only between the form and its post).
pub const LOGIN_COOKIE: &str = "orders_flow_login";
/// How long a login form may be left open before it is posted.
const LOGIN_FORM_SECS: i64 = 600;

/// What the session cookie holds, once decrypted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// Random id; `{prefix}:console:session:{id}` exists while the session is open.
    pub id: String,
    /// SHA-256 (hex) of the API token used to log in.
    pub token: String,
    /// Unix seconds after which the session is over.
    pub expires: i64,
    /// The CSRF token of this session's forms.
    pub csrf: String,
}

/// What a request's session cookie says.
#[derive(Debug)]
pub enum Presented {
    None,
    /// Present but not readable with our key (tampered, or another key).
    Invalid,
    Expired,
    Valid(Session),
}

/// 32 random bytes from the OS generator, as hex.
#[must_use]
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The cookie jar of a request, decrypting with `key`.
pub fn jar(headers: &HeaderMap, key: &Key) -> PrivateCookieJar {
    PrivateCookieJar::from_headers(headers, key.clone())
}

/// Reads the session cookie of a request.
#[must_use]
pub fn read(headers: &HeaderMap, key: &Key, now: i64) -> Presented {
    let has_cookie = headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(';')
                .any(|c| c.trim_start().starts_with(&format!("{SESSION_COOKIE}=")))
        });
    if !has_cookie {
        return Presented::None;
    }
    let Some(cookie) = jar(headers, key).get(SESSION_COOKIE) else {
        return Presented::Invalid;
    };
    match serde_json::from_str::<Session>(cookie.value()) {
        Ok(session) if session.expires <= now => Presented::Expired,
        Ok(session) => Presented::Valid(session),
        Err(_) => Presented::Invalid,
    }
}

/// A cookie with the flags every console cookie has.
fn cookie(
    name: &'static str,
    value: String,
    path: &'static str,
    max_age: i64,
    secure: bool,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .path(path)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
}

/// The session cookie for `session`, living as long as it.
#[must_use]
pub fn session_cookie(session: &Session, now: i64, secure: bool) -> Cookie<'static> {
    let value = serde_json::to_string(session).unwrap_or_default();
    cookie(SESSION_COOKIE, value, "/", session.expires - now, secure)
}

/// The login form's CSRF cookie.
#[must_use]
pub fn login_cookie(csrf: String, secure: bool) -> Cookie<'static> {
    cookie(LOGIN_COOKIE, csrf, "/console", LOGIN_FORM_SECS, secure)
}

/// What removes a cookie set by [`session_cookie`] or [`login_cookie`].
#[must_use]
pub fn removal(name: &'static str) -> Cookie<'static> {
    let path = if name == LOGIN_COOKIE {
        "/console"
    } else {
        "/"
    };
    Cookie::build((name, "")).path(path).build()
}
