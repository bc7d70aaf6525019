use loco_rs::app::Initializer;

/// Start-up extras (dashboards, metrics) in the order they wrap the router.
#[must_use]
pub fn all() -> Vec<Box<dyn Initializer>> {
    Vec::new()
}
