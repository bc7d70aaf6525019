//! The Prometheus text exposition format 0.0.4, written by hand (a handful of gauges).
use std::fmt::Write;

use crate::workers::overview::{OpsStatus, QueueOverview};

/// `Content-Type` of the format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metrics page under construction.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    /// Starts a metric family: its `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) -> &mut Self {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
        self
    }

    /// One sample; label values are escaped, the value is written as given.
    pub fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: impl std::fmt::Display,
    ) -> &mut Self {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (label, raw)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{label}=\"{}\"", escape_label(raw));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
        self
    }

    /// One histogram's `_bucket` (cumulative, `+Inf` last), `_sum` and `_count`
    /// samples; `buckets` holds one count per bound in `les` plus the overflow.
    pub fn histogram(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        les: &[String],
        buckets: &[u64],
        sum: &str,
    ) -> &mut Self {
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0;
        for (i, n) in buckets.iter().enumerate() {
            cumulative += n;
            let le = les.get(i).map_or("+Inf", String::as_str);
            let mut with_le = labels.to_vec();
            with_le.push(("le", le));
            self.sample(&bucket, &with_le, cumulative);
        }
        self.sample(&format!("{name}_sum"), labels, sum);
        self.sample(&format!("{name}_count"), labels, cumulative)
    }

    #[must_use]
    pub fn finish(self) -> String {
        self.text
    }
}

/// Reads one per-queue gauge.
type PerQueue = fn(&QueueOverview) -> u64;

/// The queue part of the `GET /metrics` page for the binary `version`.
#[must_use]
pub fn render(version: &str, status: &OpsStatus) -> Exposition {
    let mut page = Exposition::default();
    page.family(
        "orders_flow_build_info",
        "gauge",
        "Version of the running binary.",
    )
    .sample("orders_flow_build_info", &[("version", version)], 1);
    page.family(
        "orders_flow_queue_jobs",
        "gauge",
        "Jobs per queue and state (pending, scheduled, running, done, dead).",
    );
    for q in &status.queues {
        let c = &q.counts;
        for (state, n) in [
            ("pending", c.pending),
            ("scheduled", c.scheduled),
            ("running", c.running),
            ("done", c.done),
            ("dead", c.dead),
        ] {
            page.sample(
                "orders_flow_queue_jobs",
                &[("queue", q.queue), ("state", state)],
                n,
            );
        }
    }
    let per_queue: [(&str, &str, PerQueue); 3] = [
        (
            "orders_flow_queue_workers_live",
            "Workers of the queue that sent a heartbeat within heartbeat_secs x missed_heartbeats.",
            |q| q.counts.live_workers,
        ),
        (
            "orders_flow_queue_workers_registered",
            "Worker entries of the queue in Redis, live or not yet reaped.",
            |q| q.counts.workers,
        ),
        (
            "orders_flow_queue_unattended",
            "1 when jobs wait in the queue and no live worker consumes it.",
            |q| u64::from(q.counts.unattended()),
        ),
    ];
    for (name, help, value) in per_queue {
        page.family(name, "gauge", help);
        for q in &status.queues {
            page.sample(name, &[("queue", q.queue)], value(q));
        }
    }
    page.family(
        "orders_flow_kpi_outbox_pending",
        "gauge",
        "KPI events committed in the database and not yet applied to Redis.",
    )
    .sample(
        "orders_flow_kpi_outbox_pending",
        &[],
        status.kpi_outbox_pending,
    );
    let canary = &status.canary;
    page.family(
        "orders_flow_canary_runs_total",
        "counter",
        "Canary jobs run by any worker.",
    )
    .sample("orders_flow_canary_runs_total", &[], canary.runs);
    if let (Some(ran_at), Some(latency)) = (canary.last_ran_at_ms, canary.last_latency_ms) {
        page.family(
            "orders_flow_canary_last_run_timestamp_seconds",
            "gauge",
            "When a worker last ran a canary job (unix time).",
        )
        .sample(
            "orders_flow_canary_last_run_timestamp_seconds",
            &[],
            millis_as_seconds(ran_at),
        );
        page.family(
            "orders_flow_canary_last_latency_seconds",
            "gauge",
            "How long the last canary job waited in its queue.",
        )
        .sample(
            "orders_flow_canary_last_latency_seconds",
            &[],
            millis_as_seconds(latency),
        );
    }
    page
}

/// Backslash, double quote and line feed are the three characters to escape.
#[must_use]
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Milliseconds as seconds with three decimals, without floating point.
#[must_use]
pub fn millis_as_seconds(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    format!("{sign}{}.{:03}", ms / 1000, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("line\nbreak"), "line\\nbreak");
        let mut page = Exposition::default();
        page.family("x_total", "counter", "with \\ and\nnewline")
            .sample("x_total", &[("q", "o\"k"), ("s", "y")], 3);
        assert_eq!(
            page.finish(),
            "# HELP x_total with \\\\ and\\nnewline\n# TYPE x_total counter\nx_total{q=\"o\\\"k\",s=\"y\"} 3\n"
        );
    }

    #[test]
    fn milliseconds_become_exact_seconds() {
        assert_eq!(millis_as_seconds(1234), "1.234");
        assert_eq!(millis_as_seconds(5), "0.005");
        assert_eq!(millis_as_seconds(-1500), "-1.500");
    }
}
