//! A console page's request: who asks, behind the console login
//! ([`ConsolePage`]), and the templates to answer with. Every page renders
//! through [`ConsoleView::render`], so the layout's context is built in one place.
use axum::{
    extract::FromRequestParts,
    http::request::Parts,
    response::{Html, IntoResponse, Response},
};
use loco_rs::prelude::*;

use super::{
    auth::{Caller, ConsolePage},
    error::ApiError,
};

/// Seconds between two refreshes of a console page.
const REFRESH_SECS: u32 = 5;

/// The extractor of every console page.
pub struct ConsoleView {
    /// Who asks: without `ops`, customer data is masked and the forms hidden.
    pub caller: Caller,
    views: TeraView,
}

impl FromRequestParts<AppContext> for ConsoleView {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, ctx: &AppContext) -> Result<Self, Response> {
        // The templates, then the login: the order the pages extracted them in
        // when each took both.
        let ViewEngine(views) = ViewEngine::<TeraView>::from_request_parts(parts, ctx)
            .await
            .map_err(IntoResponse::into_response)?;
        let ConsolePage(caller) = ConsolePage::from_request_parts(parts, ctx).await?;
        Ok(Self { caller, views })
    }
}

impl ConsoleView {
    /// `template` (which extends `console/layout.html`) with `page` as its
    /// context. A session's CSRF token gives the page its logout form and the
    /// token its `fetch` calls send (a caller with a bearer token has no session).
    ///
    /// # Errors
    /// 500 when the template fails.
    pub fn render(
        &self,
        template: &str,
        title: &str,
        page: &impl serde::Serialize,
    ) -> Result<Html<String>, ApiError> {
        let csrf = self.caller.session.as_ref().map(|s| s.csrf.as_str());
        self.views
            .render(
                template,
                serde_json::json!({
                    "title": title,
                    "csrf": csrf,
                    "refresh_secs": REFRESH_SECS,
                    "page": page,
                }),
            )
            .map(Html)
            .map_err(|e| ApiError::internal(&e))
    }
}
