//! The app's version as it reports itself (Loco's `app_version` hook and the
//! `/metrics` page): a leaf, so that a controller need not import the app.

/// The crate version and the build's commit (`BUILD_SHA`, `dev` when unset).
#[must_use]
pub fn app_version() -> String {
    format!(
        "{} ({})",
        env!("CARGO_PKG_VERSION"),
        option_env!("BUILD_SHA").unwrap_or("dev")
    )
}
