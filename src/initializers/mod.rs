use loco_rs::app::Initializer;

pub mod view_engine;

/// Start-up extras (dashboards, metrics) in the order they wrap the router.
#[must_use]
pub fn all() -> Vec<Box<dyn Initializer>> {
    vec![Box::new(view_engine::ViewEngineInitializer)]
}
