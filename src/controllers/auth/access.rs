//! Who may do what: the configured tokens and the console's cookie key, built
//! once at start-up and shared with every handler.
use std::sync::Arc;

use axum::http::{HeaderMap, Method, StatusCode};
use axum_extra::extract::cookie::Key;
use loco_rs::{app::AppContext, environment::Environment, Error, Result};

use super::{
    bearer::{bearer, constant_time_eq},
    session::{self, Presented, Session},
};
use crate::{
    controllers::error::ApiError,
    settings::{
        tokens::{Scope, Scopes, TokenTable},
        Settings,
    },
};

/// The header a cookie-authenticated request other than GET/HEAD sends its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Tokens, cookie key, and the console's settings.
pub struct Access {
    pub tokens: TokenTable,
    pub key: Key,
    pub session_ttl_secs: i64,
    pub secure_cookie: bool,
    pub metrics_open: bool,
}

/// How [`Access`] sits in `ctx.shared_store` (cloned per lookup).
#[derive(Clone)]
struct Shared(Arc<Access>);

/// A request that proved who it is.
#[derive(Debug, Clone)]
pub struct Caller {
    /// A stable, non-secret name of the token (idempotency keys are scoped to it).
    pub name: String,
    pub scopes: Scopes,
    /// The console session it came with, if it came with one.
    pub session: Option<Session>,
}

impl Caller {
    /// Customer data (e-mail, name, address) unmasked: the `ops` scope only.
    #[must_use]
    pub fn sees_customer_data(&self) -> bool {
        self.scopes.contains(Scope::Ops)
    }
}

/// Why a request has no [`Caller`].
#[derive(Debug, PartialEq, Eq)]
pub enum Denied {
    /// Nothing presented at all (a page sends the browser to the login form).
    NoCredential,
    Unauthorized(&'static str),
    Forbidden(&'static str, String),
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::NoCredential => Self::unauthorized(),
            Denied::Unauthorized(message) => {
                Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
            }
            Denied::Forbidden(code, message) => Self::new(StatusCode::FORBIDDEN, code, message),
        }
    }
}

impl Access {
    /// Builds the access rules from the validated settings and shares them.
    ///
    /// # Errors
    /// In production with the development secret: sessions signed with a key
    /// everyone can read in this repository are no sessions.
    pub fn install(ctx: &AppContext, settings: &Settings) -> Result<()> {
        let secret = &settings.console.secret_key;
        if ctx.environment == Environment::Production && secret.contains("do-not-use-in-production")
        {
            return Err(Error::string(
                "settings.console.secret_key: set CONSOLE_SECRET_KEY to your own random \
                 secret (e.g. `openssl rand -hex 32`); production refuses the development one",
            ));
        }
        let access = Self {
            tokens: settings.api.tokens(),
            key: Key::derive_from(secret.as_bytes()),
            session_ttl_secs: i64::try_from(settings.console.session_ttl_secs).unwrap_or(i64::MAX),
            secure_cookie: settings.console.secure_cookie,
            metrics_open: settings.api.metrics_open,
        };
        ctx.shared_store.insert(Shared(Arc::new(access)));
        Ok(())
    }

    /// The access rules of a booted app.
    ///
    /// # Errors
    /// 500 when `after_context` did not install them.
    pub fn of(ctx: &AppContext) -> Result<Arc<Self>, ApiError> {
        ctx.shared_store
            .get::<Shared>()
            .map(|s| s.0)
            .ok_or_else(|| ApiError::internal(&"access rules not installed"))
    }

    /// The index of the token equal to `presented`. Every token is compared,
    /// always: the time taken says nothing about which one matched.
    #[must_use]
    pub fn token_index(&self, presented: &[u8]) -> Option<usize> {
        let mut matched = None;
        for (index, token) in self.tokens.0.iter().enumerate() {
            if constant_time_eq(presented, token.secret.as_bytes()) {
                matched = Some(index);
            }
        }
        matched
    }

    /// The index of the token whose SHA-256 (hex) is `digest`.
    fn digest_index(&self, digest: &str) -> Option<usize> {
        let mut matched = None;
        for (index, token) in self.tokens.0.iter().enumerate() {
            if constant_time_eq(digest.as_bytes(), hex::encode(token.digest).as_bytes()) {
                matched = Some(index);
            }
        }
        matched
    }

    fn caller(&self, index: usize, session: Option<Session>) -> Caller {
        Caller {
            name: format!("token-{index}"),
            scopes: self.tokens.0[index].scopes,
            session,
        }
    }

    /// Who sent this request: a bearer token if it has an `Authorization`
    /// header (and then only that), else the console session cookie, which for
    /// any method but GET/HEAD also needs its CSRF token in [`CSRF_HEADER`].
    ///
    /// # Errors
    /// [`Denied`] when neither proves anything.
    pub fn identify(&self, headers: &HeaderMap, method: &Method) -> Result<Caller, Denied> {
        if headers.contains_key(axum::http::header::AUTHORIZATION) {
            let index = bearer(headers)
                .and_then(|token| self.token_index(token.as_bytes()))
                .ok_or(Denied::Unauthorized("missing or invalid bearer token"))?;
            return Ok(self.caller(index, None));
        }
        let now = chrono::Utc::now().timestamp();
        let session = match session::read(headers, &self.key, now) {
            Presented::None => return Err(Denied::NoCredential),
            Presented::Invalid => {
                return Err(Denied::Unauthorized("invalid session; log in again"))
            }
            Presented::Expired => {
                return Err(Denied::Unauthorized("session expired; log in again"))
            }
            Presented::Valid(session) => session,
        };
        let index = self
            .digest_index(&session.token)
            .ok_or(Denied::Unauthorized(
                "the session's token was revoked; log in again",
            ))?;
        if !matches!(*method, Method::GET | Method::HEAD) {
            let sent = headers
                .get(CSRF_HEADER)
                .map(|v| v.as_bytes())
                .unwrap_or_default();
            if !constant_time_eq(sent, session.csrf.as_bytes()) {
                return Err(Denied::Forbidden(
                    "csrf_failed",
                    format!("a console request other than GET needs the session's `{CSRF_HEADER}` header"),
                ));
            }
        }
        Ok(self.caller(index, Some(session)))
    }

    /// [`Self::identify`], then the scope `needed`.
    ///
    /// # Errors
    /// [`Denied`] without a credential or without the scope.
    pub fn authorize(
        &self,
        headers: &HeaderMap,
        method: &Method,
        needed: Scope,
    ) -> Result<Caller, Denied> {
        let caller = self.identify(headers, method)?;
        if caller.scopes.contains(needed) {
            Ok(caller)
        } else {
            Err(Denied::Forbidden(
                "forbidden",
                format!("this credential lacks the `{}` scope", needed.name()),
            ))
        }
    }
}
