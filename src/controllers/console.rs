//! The console's login and logout. An operator logs in with an API token (no
//! second password store to keep in sync); the session then carries that
//! token's scopes: `read` sees the pages with customer data masked, `ops`
//! sees it whole and may retry jobs. Both forms are CSRF-protected: the login
//! form by a token in a short-lived private cookie, logout by the session's own.
use axum::{
    extract::{RawQuery, State},
    http::{header, HeaderMap, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
    Form,
};
use loco_rs::prelude::*;
use serde::Deserialize;
use serde_json::json;

use super::{
    auth::{
        bearer::constant_time_eq,
        session::{self, Presented, LOGIN_COOKIE, SESSION_COOKIE},
        Access, Scope, LOGIN_PATH,
    },
    error::ApiError,
    params,
};

/// Where a successful login lands.
const HOME: &str = "/dashboard";

fn csrf_failed() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "csrf_failed",
        "the form's CSRF token is missing or stale: reload the page and try again",
    )
}

/// `GET /console/login[?error=invalid|expired]`: the login form.
///
/// # Errors
/// 400 for another query parameter; 500 when the template fails.
pub async fn form(
    ViewEngine(views): ViewEngine<TeraView>,
    State(ctx): State<AppContext>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = params::query(query.as_deref(), &["error"])?;
    let error = match params.get("error").map(String::as_str) {
        Some("invalid") => Some("That token is unknown or lacks the read scope."),
        Some("expired") => Some("Your session has ended: log in again."),
        _ => None,
    };
    let access = Access::of(&ctx)?;
    let csrf = session::random_token();
    let page = views
        .render(
            "console/login.html",
            json!({
                "csrf": csrf,
                "error": error,
                "session_hours": access.session_ttl_secs / 3600,
            }),
        )
        .map_err(|e| ApiError::internal(&e))?;
    let jar =
        session::jar(&headers, &access.key).add(session::login_cookie(csrf, access.secure_cookie));
    Ok((jar, no_store(), Html(page)).into_response())
}

#[derive(Deserialize)]
pub struct LoginForm {
    csrf: String,
    token: String,
}

/// `POST /console/login`: a token with the `read` scope starts a session.
///
/// # Errors
/// 403 when the form's CSRF token is not the one its cookie holds.
pub async fn login(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let access = Access::of(&ctx)?;
    let jar = session::jar(&headers, &access.key);
    let expected = jar
        .get(LOGIN_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(expected.as_bytes(), form.csrf.as_bytes()) {
        return Err(csrf_failed());
    }
    let jar = jar.remove(session::removal(LOGIN_COOKIE));
    let index = access
        .token_index(form.token.as_bytes())
        .filter(|i| access.tokens.0[*i].scopes.contains(Scope::Read));
    let Some(index) = index else {
        tracing::warn!("console login refused");
        return Ok((jar, Redirect::to(&format!("{LOGIN_PATH}?error=invalid"))).into_response());
    };
    let now = chrono::Utc::now().timestamp();
    let session = access.open_session(index, now).await?;
    tracing::info!(token = index, "console login");
    let jar = jar.add(session::session_cookie(&session, now, access.secure_cookie));
    Ok((jar, Redirect::to(HOME)).into_response())
}

#[derive(Deserialize)]
pub struct LogoutForm {
    csrf: String,
}

/// `POST /console/logout`: ends the session (the form carries its CSRF token).
///
/// # Errors
/// 403 when a live session's CSRF token is not the form's.
pub async fn logout(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Result<Response, ApiError> {
    let access = Access::of(&ctx)?;
    let now = chrono::Utc::now().timestamp();
    if let Presented::Valid(session) = session::read(&headers, &access.key, now) {
        if !constant_time_eq(session.csrf.as_bytes(), form.csrf.as_bytes()) {
            return Err(csrf_failed());
        }
        access.close_session(&session).await?;
    }
    let jar = session::jar(&headers, &access.key).remove(session::removal(SESSION_COOKIE));
    Ok((jar, Redirect::to(LOGIN_PATH)).into_response())
}

/// Pages with a CSRF token are never cached.
fn no_store() -> [(header::HeaderName, &'static str); 1] {
    [(header::CACHE_CONTROL, "no-store")]
}

pub fn routes() -> Routes {
    Routes::new()
        .prefix("console")
        .add("/login", get(form).post(login))
        .add("/logout", post(logout))
}
