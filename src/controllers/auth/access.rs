//! Who may do what: the configured tokens and the console's cookie key, built
//! once at start-up and shared with every handler.
use std::sync::Arc;

use axum::http::{HeaderMap, Method, StatusCode};
use axum_extra::extract::cookie::Key;
use loco_rs::{app::AppContext, environment::Environment, Error, Result};
use redis::aio::ConnectionManager;

use super::{
    bearer::{bearer, constant_time_eq},
    session::{self, Presented, Session},
};
use crate::{
    controllers::error::ApiError,
    settings::tokens::{Scope, Scopes, TokenTable},
    workers::Services,
};

/// The header a cookie-authenticated request other than GET/HEAD sends its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Tokens, cookie key, and the console's settings.
pub struct Access {
    pub tokens: TokenTable,
    /// Open sessions are keys `{sessions}{id}` (see [`session`]).
    redis: ConnectionManager,
    sessions: String,
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
    /// Redis could not say whether the session is open.
    Failed(String),
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::NoCredential => Self::unauthorized(),
            Denied::Unauthorized(message) => {
                Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
            }
            Denied::Forbidden(code, message) => Self::new(StatusCode::FORBIDDEN, code, message),
            Denied::Failed(error) => Self::internal(&error),
        }
    }
}

impl Access {
    /// Builds the access rules from the validated settings and shares them.
    ///
    /// # Errors
    /// In production with the development secret: sessions signed with a key
    /// everyone can read in this repository are no sessions.
    pub fn install(ctx: &AppContext, services: &Services) -> Result<()> {
        let settings = &services.settings;
        let secret = &settings.console.secret_key;
        refuse_development_secret(&ctx.environment, secret)?;
        let access = Self {
            tokens: settings.api.tokens(),
            redis: services.web_redis.clone(),
            sessions: settings.redis.key("console:session:"),
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
    pub async fn identify(&self, headers: &HeaderMap, method: &Method) -> Result<Caller, Denied> {
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
        if !self.is_open(&session).await? {
            return Err(Denied::Unauthorized("session ended; log in again"));
        }
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
    pub async fn authorize(
        &self,
        headers: &HeaderMap,
        method: &Method,
        needed: Scope,
    ) -> Result<Caller, Denied> {
        let caller = self.identify(headers, method).await?;
        if caller.scopes.contains(needed) {
            Ok(caller)
        } else {
            Err(Denied::Forbidden(
                "forbidden",
                format!("this credential lacks the `{}` scope", needed.name()),
            ))
        }
    }

    /// Opens a session for the token at `index`.
    ///
    /// # Errors
    /// When Redis cannot record it.
    pub async fn open_session(&self, index: usize, now: i64) -> Result<Session, ApiError> {
        let session = Session {
            id: session::random_token(),
            token: hex::encode(self.tokens.0[index].digest),
            expires: now.saturating_add(self.session_ttl_secs),
            csrf: session::random_token(),
        };
        let ttl = u64::try_from(self.session_ttl_secs).unwrap_or(u64::MAX);
        let () = redis::cmd("SET")
            .arg(format!("{}{}", self.sessions, session.id))
            .arg(1)
            .arg("EX")
            .arg(ttl)
            .query_async(&mut self.redis.clone())
            .await
            .map_err(|e| ApiError::internal(&e))?;
        Ok(session)
    }

    /// Ends a session: its cookie opens nothing any more, wherever it was copied.
    ///
    /// # Errors
    /// When Redis cannot delete it.
    pub async fn close_session(&self, session: &Session) -> Result<(), ApiError> {
        let _: i64 = redis::cmd("DEL")
            .arg(format!("{}{}", self.sessions, session.id))
            .query_async(&mut self.redis.clone())
            .await
            .map_err(|e| ApiError::internal(&e))?;
        Ok(())
    }

    async fn is_open(&self, session: &Session) -> Result<bool, Denied> {
        redis::cmd("EXISTS")
            .arg(format!("{}{}", self.sessions, session.id))
            .query_async(&mut self.redis.clone())
            .await
            .map_err(|e| Denied::Failed(e.to_string()))
    }
}

/// Production refuses the development secret: sessions encrypted with a key
/// anyone can read in this repository are no sessions.
///
/// # Errors
/// In production with a secret from the repository's config files.
pub fn refuse_development_secret(environment: &Environment, secret: &str) -> Result<()> {
    if *environment == Environment::Production && secret.contains("do-not-use-in-production") {
        return Err(Error::string(
            "settings.console.secret_key: set CONSOLE_SECRET_KEY to your own random \
             secret (e.g. `openssl rand -hex 32`); production refuses the development one",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use loco_rs::environment::Environment;

    use super::refuse_development_secret;

    #[test]
    fn production_refuses_the_development_secret() {
        let dev = "test-only-secret-do-not-use-in-production";
        assert!(refuse_development_secret(&Environment::Production, dev).is_err());
        assert!(refuse_development_secret(&Environment::Test, dev).is_ok());
        let own = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert!(refuse_development_secret(&Environment::Production, own).is_ok());
    }
}
