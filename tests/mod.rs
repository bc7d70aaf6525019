//! One test binary: requests/, models/, workers/, tasks/ share the harness in support/.
mod architecture;
mod browser;
mod models;
mod requests;
mod support;
mod tasks;
mod workers;
