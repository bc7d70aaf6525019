//! Progress bars for long tasks: drawn on a terminal, silent otherwise.
use std::{io::IsTerminal, time::Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A reading bar (bytes of the file, with rows and rows/s) and a writing
/// bar (chunks written by the workers).
pub struct Bars {
    read: ProgressBar,
    write: ProgressBar,
    started: Instant,
}

impl Bars {
    /// Bars for a file of `size` bytes; hidden when stderr is not a terminal
    /// (logs, CI, tests) so no escape codes end up in captured output.
    #[must_use]
    pub fn new(size: u64) -> Self {
        let target = || {
            if std::io::stderr().is_terminal() {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            }
        };
        let read = ProgressBar::with_draw_target(Some(size), target());
        read.set_style(style(
            "reading  [{bar:30}] {percent:>3}% {binary_bytes}/{binary_total_bytes} {msg}",
        ));
        let write = ProgressBar::with_draw_target(None, target());
        write.set_style(style(
            "writing  [{bar:30}] {pos}/{len} chunks ({per_sec}) {elapsed}",
        ));
        Self {
            read,
            write,
            started: Instant::now(),
        }
    }

    /// `bytes` of the file read, `rows` parsed.
    pub fn read(&self, bytes: u64, rows: u64) {
        self.read.set_position(bytes);
        let secs = self.started.elapsed().as_secs_f64();
        // A display rate, not money.
        let rate = if secs > 0.0 { rows as f64 / secs } else { 0.0 };
        self.read
            .set_message(format!("{rows} rows, {rate:.0} rows/s"));
    }

    /// Chunks written out of `total`.
    pub fn written(&self, done: i64, total: i64) {
        self.write.set_length(total.unsigned_abs());
        self.write.set_position(done.unsigned_abs());
    }

    /// A line on stderr that does not tear the bars.
    pub fn note(&self, line: &str) {
        self.read.suspend(|| eprintln!("{line}"));
    }

    pub fn finish_reading(&self) {
        self.read.finish();
    }

    pub fn finish(&self) {
        self.read.finish_and_clear();
        self.write.finish_and_clear();
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}
