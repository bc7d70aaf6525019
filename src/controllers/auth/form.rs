//! Console forms that change something, posted by the browser without
//! JavaScript: the session's CSRF token travels in the form's `csrf` field,
//! not in the header the console's `fetch` calls send.
use std::marker::PhantomData;

use axum::{
    extract::{FromRequest, Request},
    http::Method,
    Form,
};
use loco_rs::app::AppContext;
use serde::Deserialize;

use super::{access::Caller, bearer::constant_time_eq, Denied, HasAccess, Required};
use crate::controllers::error::ApiError;

#[derive(Deserialize)]
struct CsrfField {
    csrf: String,
}

/// A form post whose caller has the scope `R`. A console session must send its
/// CSRF token in the `csrf` field; a bearer token needs none (a browser never
/// sends one on its own, so another site cannot forge it).
///
/// It reads the body, so it comes last in a handler's arguments; it still
/// checks the credential and the scope before it looks at the body, so a
/// request without them learns nothing else.
pub struct FormAuthorized<R>(pub Caller, PhantomData<R>);

impl<R: Required> FromRequest<AppContext> for FormAuthorized<R> {
    type Rejection = ApiError;

    async fn from_request(req: Request, ctx: &AppContext) -> Result<Self, ApiError> {
        let access = ctx.access()?;
        // Checked as a GET: this request's CSRF token is in its body, not in
        // the header `identify` reads for other methods; it is compared below.
        let caller = access
            .authorize(req.headers(), &Method::GET, R::SCOPE)
            .await?;
        if let Some(session) = &caller.session {
            let sent = Form::<CsrfField>::from_request(req, ctx)
                .await
                .map(|form| form.0.csrf)
                .unwrap_or_default();
            if !constant_time_eq(sent.as_bytes(), session.csrf.as_bytes()) {
                return Err(Denied::Forbidden(
                    "csrf_failed",
                    "the form's CSRF token is missing or stale: reload the page and try again"
                        .to_string(),
                )
                .into());
            }
        }
        Ok(Self(caller, PhantomData))
    }
}
