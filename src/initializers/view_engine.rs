//! Loco's Tera view engine for the console's pages (`assets/views/**/*.html`),
//! as Loco's starters wire it: one `Extension` layer, read by `ViewEngine<TeraView>`.
use async_trait::async_trait;
use axum::{Extension, Router as AxumRouter};
use loco_rs::{
    app::{AppContext, Initializer},
    controller::views::{engines::TeraView, ViewEngine},
    Result,
};

pub struct ViewEngineInitializer;

#[async_trait]
impl Initializer for ViewEngineInitializer {
    fn name(&self) -> String {
        "view-engine".to_string()
    }

    async fn after_routes(&self, router: AxumRouter, _ctx: &AppContext) -> Result<AxumRouter> {
        let tera = TeraView::build()?;
        Ok(router.layer(Extension(ViewEngine::from(tera))))
    }
}
