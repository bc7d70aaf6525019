//! The app's services as handler arguments: a handler declares what it needs
//! instead of looking it up in the `AppContext`. Missing services (an app
//! whose `after_context` did not run) answer the usual JSON 500.
use axum::{extract::FromRequestParts, http::request::Parts};
use loco_rs::app::AppContext;

use super::error::ApiError;
use crate::workers::Services;

/// [`Services`] on the web side's fail-fast Redis connection
/// ([`Services::web`]): what API and console handlers read and write Redis with.
pub struct WebServices(pub Services);

/// [`Services`] as booted ([`Services::of`]), on the reconnecting connection:
/// for work that rides out a Redis hiccup rather than failing at once
/// (queuing the jobs of committed refunds).
pub struct AppServices(pub Services);

impl FromRequestParts<AppContext> for WebServices {
    type Rejection = ApiError;

    async fn from_request_parts(_parts: &mut Parts, ctx: &AppContext) -> Result<Self, ApiError> {
        Ok(Self(Services::web(ctx)?))
    }
}

impl FromRequestParts<AppContext> for AppServices {
    type Rejection = ApiError;

    async fn from_request_parts(_parts: &mut Parts, ctx: &AppContext) -> Result<Self, ApiError> {
        Ok(Self(Services::of(ctx)?))
    }
}
