//! Credentials and scopes for every route that shows customer data or changes
//! anything: a bearer token (`Authorization: Bearer …`, API clients) or the
//! console's session cookie (browsers, after `/console/login`).
//!
//! Handlers name what they need with an extractor, first in their argument
//! list so that a request without a credential learns nothing else:
//! [`Authorized<Read>`], [`Authorized<Refunds>`], [`Authorized<Ops>`] answer
//! 401 without a credential and 403 without the scope; [`ConsolePage`] sends a
//! browser with no credential at all to the login form instead.
//! `tests/requests/auth_routes.rs` walks every registered route and fails for
//! one that answers without a credential and is not on its open list.
use std::{marker::PhantomData, sync::Arc};

use axum::{
    extract::FromRequestParts,
    http::request::Parts,
    response::{IntoResponse, Redirect, Response},
};
use loco_rs::app::AppContext;

pub mod access;
pub mod bearer;
pub mod form;
pub mod session;

pub use access::{Access, Caller, Denied};

use super::error::ApiError;
pub use crate::settings::tokens::Scope;

/// State a handler runs with that knows the access rules.
pub trait HasAccess {
    /// # Errors
    /// 500 when the rules were not installed.
    fn access(&self) -> Result<Arc<Access>, ApiError>;
}

impl HasAccess for AppContext {
    fn access(&self) -> Result<Arc<Access>, ApiError> {
        Access::of(self)
    }
}

/// A scope a route requires, as a type.
pub trait Required: Send + Sync {
    const SCOPE: Scope;
}

/// Read orders, imports, refunds, figures, queues.
pub struct Read;
/// Ask for refunds.
pub struct Refunds;
/// Operate the queues.
pub struct Ops;

impl Required for Read {
    const SCOPE: Scope = Scope::Read;
}
impl Required for Refunds {
    const SCOPE: Scope = Scope::Refunds;
}
impl Required for Ops {
    const SCOPE: Scope = Scope::Ops;
}

/// A request whose credential has the scope `R`.
pub struct Authorized<R>(pub Caller, PhantomData<R>);

impl<R> std::ops::Deref for Authorized<R> {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.0
    }
}

impl<S, R> FromRequestParts<S> for Authorized<R>
where
    S: HasAccess + Send + Sync,
    R: Required,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let caller = state
            .access()?
            .authorize(&parts.headers, &parts.method, R::SCOPE)
            .await?;
        Ok(Self(caller, PhantomData))
    }
}

/// A console page (`read` scope). A browser that presents nothing, or a
/// session that ended, goes to the login form (303); a wrong bearer token
/// gets 401, a credential without the scope 403.
pub struct ConsolePage(pub Caller);

/// Where [`ConsolePage`] sends a browser without a session.
pub const LOGIN_PATH: &str = "/console/login";

impl FromRequestParts<AppContext> for ConsolePage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, ctx: &AppContext) -> Result<Self, Response> {
        let access = ctx.access().map_err(IntoResponse::into_response)?;
        match access
            .authorize(&parts.headers, &parts.method, Scope::Read)
            .await
        {
            Ok(caller) => Ok(Self(caller)),
            Err(Denied::NoCredential) => Err(Redirect::to(LOGIN_PATH).into_response()),
            Err(Denied::Unauthorized(_))
                if !parts
                    .headers
                    .contains_key(axum::http::header::AUTHORIZATION) =>
            {
                Err(Redirect::to(&format!("{LOGIN_PATH}?error=expired")).into_response())
            }
            Err(denied) => Err(ApiError::from(denied).into_response()),
        }
    }
}
