//! The four queues of SPEC §8, named explicitly (apalis would default to the Rust type path).
pub const IMPORT: &str = "orders:import";
pub const WORKFLOW: &str = "orders:workflow";
pub const NOTIFICATIONS: &str = "notifications";
pub const REFUNDS: &str = "refunds";
pub const ALL: [&str; 4] = [IMPORT, WORKFLOW, NOTIFICATIONS, REFUNDS];
/// Operators' probe (see `workers/canary.rs`), outside the order pipeline.
pub const CANARY: &str = "ops:canary";
