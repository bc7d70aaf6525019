//! `GET /dashboard`: every queue's jobs by state, its workers, and its dead jobs.
use std::fmt::Write;

use super::html::{escape, page};
use crate::workers::{
    canary::CanaryReport,
    dead::DeadJobs,
    overview::{OpsStatus, QueueOverview},
};

/// Characters of a payload shown before it is cut.
const PAYLOAD_CHARS: usize = 300;

/// The queue dashboard page; `dead` holds a page of dead jobs for each queue
/// that has any.
#[must_use]
pub fn render(status: &OpsStatus, dead: &[DeadJobs], worker_ttl_secs: u64) -> String {
    let queues: &[QueueOverview] = &status.queues;
    let mut body = String::new();
    body.push_str(
        "<table><tr><th>queue</th><th>pending</th><th>scheduled</th><th>running</th>\
         <th>done</th><th>dead</th><th>live workers</th><th>last heartbeat</th><th></th></tr>",
    );
    for q in queues {
        let c = &q.counts;
        let name = escape(q.queue);
        let class = if q.counts.unattended() || c.dead > 0 {
            "warn"
        } else {
            "ok"
        };
        let beat = q
            .last_beat_secs_ago
            .map_or_else(|| "never".to_string(), |s| format!("{s} s ago"));
        let _ = write!(
            body,
            "<tr class=\"{class}\"><td>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{} of {}</td><td>{beat}</td>\
             <td class=\"text\"><a href=\"/api/queues/{name}/dead\">dead jobs (JSON)</a></td></tr>",
            c.pending, c.scheduled, c.running, c.done, c.dead, c.live_workers, c.workers
        );
    }
    body.push_str("</table>");
    let unattended: Vec<String> = queues
        .iter()
        .filter(|q| q.counts.unattended())
        .map(|q| escape(q.queue))
        .collect();
    if !unattended.is_empty() {
        let _ = write!(
            body,
            "<p class=\"warn\">Jobs wait and no worker is alive on: {}. Start one: \
             <code>cargo loco start --worker</code>.</p>",
            unattended.join(", ")
        );
    }
    let _ = write!(
        body,
        "<p>A worker is live when it sent a heartbeat within the last {worker_ttl_secs} s. \
         KPI events waiting to reach Redis: {}. {}</p>",
        status.kpi_outbox_pending,
        canary_line(&status.canary)
    );
    dead_section(&mut body, dead);
    page("orders-flow queues", 10, &body)
}

/// The last canary (`POST /api/ops/canary`): who ran it and how long it waited.
fn canary_line(canary: &CanaryReport) -> String {
    match (
        &canary.last_worker,
        canary.last_ran_at_ms,
        canary.last_latency_ms,
    ) {
        (Some(worker), Some(ran_at), Some(latency)) => {
            let when = chrono::DateTime::from_timestamp_millis(ran_at)
                .map_or_else(String::new, |t| {
                    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
                });
            format!(
                "Last canary: run by {} at {when} after {latency} ms in the queue.",
                escape(worker)
            )
        }
        _ => "No canary has run yet (<code>POST /api/ops/canary</code>).".to_string(),
    }
}

fn dead_section(body: &mut String, dead: &[DeadJobs]) {
    body.push_str("<h2>Dead jobs</h2>");
    if dead.iter().all(|d| d.total == 0) {
        body.push_str("<p>None.</p>");
        return;
    }
    body.push_str(
        "<p>Retrying needs a console session with the <code>ops</code> scope \
         (or <code>cargo loco task queues_retry queue=NAME id=ID</code>) \
         <span id=\"result\"></span></p>",
    );
    for page in dead.iter().filter(|d| d.total > 0) {
        let name = escape(&page.queue);
        let _ = write!(
            body,
            "<h3>{name}: {} dead (newest {} shown) \
             <button data-queue=\"{name}\">Retry all</button></h3>\
             <table><tr><th>job id</th><th>died (UTC)</th><th>attempts</th><th>last error</th>\
             <th>payload</th><th></th></tr>",
            page.total,
            page.jobs.len()
        );
        for job in &page.jobs {
            let died = job
                .died_at
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M:%S").to_string());
            let attempts = job.attempts.map_or_else(String::new, |a| a.to_string());
            let payload: String = job
                .payload
                .to_string()
                .chars()
                .take(PAYLOAD_CHARS)
                .collect();
            let id = escape(&job.id);
            let _ = write!(
                body,
                "<tr><td><code>{id}</code></td><td>{died}</td><td>{attempts}</td>\
                 <td class=\"text\">{}</td><td class=\"payload\"><code>{}</code></td>\
                 <td><button data-queue=\"{name}\" data-id=\"{id}\">Retry</button></td></tr>",
                escape(job.last_error.as_deref().unwrap_or("")),
                escape(&payload)
            );
        }
        body.push_str("</table>");
    }
    body.push_str(RETRY_SCRIPT);
}

/// Posts to the retry API with the session cookie and the session's CSRF token
/// (from the page's `<meta name=csrf-token>`).
const RETRY_SCRIPT: &str = r"<script>
const csrf = document.querySelector('meta[name=csrf-token]');
document.addEventListener('click', async (event) => {
  const button = event.target.closest('button[data-queue]');
  if (!button) return;
  const body = button.dataset.id ? { ids: [button.dataset.id] } : { all: true };
  const url = '/api/queues/' + encodeURIComponent(button.dataset.queue) + '/dead/retry';
  const response = await fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf ? csrf.content : '' },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  document.getElementById('result').textContent = response.ok
    ? 'queued again: ' + answer.retried
    : response.status + ' ' + (answer.error || '') + ': ' + (answer.message || '');
  if (response.ok) setTimeout(() => location.reload(), 800);
});
</script>";
