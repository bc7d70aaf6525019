//! The console in headless Chromium, as an operator uses it (issue 19 §6).
mod console;
mod queues;
mod views;
