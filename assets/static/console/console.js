// The console's behaviour: live pages and the dead-job buttons. No framework,
// nothing from a CDN.
'use strict';
const csrf = document.querySelector('meta[name=csrf-token]');
const live = document.getElementById('live');
let refreshing = false;

// Fetches this page again and swaps its #live part (and the banner) in place:
// the page stays live without reloading, and a field being typed in keeps its
// focus because forms that take input sit outside the refreshed rows' cells.
async function refresh() {
  if (refreshing || !live) return;
  refreshing = true;
  try {
    const response = await fetch(location.href, {
      credentials: 'same-origin',
      headers: { Accept: 'text/html' },
      cache: 'no-store',
    });
    // The session ended: the console sent us to its login form.
    if (response.redirected && new URL(response.url).pathname === '/console/login') {
      location.href = response.url;
      return;
    }
    const html = await response.text();
    const next = new DOMParser().parseFromString(html, 'text/html');
    const nextLive = next.getElementById('live');
    const active = document.activeElement;
    const typing = active && live.contains(active) && active.matches('input, textarea, select');
    if (nextLive && !typing) live.innerHTML = nextLive.innerHTML;
    const banner = document.getElementById('banner');
    const nextBanner = next.getElementById('banner');
    if (banner && nextBanner) banner.innerHTML = nextBanner.innerHTML;
    // A 503 page (Redis unreachable) has no #live: keep the last figures and say so.
    const stamp = new Date().toISOString().slice(11, 19);
    document.getElementById('refreshed').textContent = response.ok
      ? ', last at ' + stamp + ' UTC'
      : ', last attempt at ' + stamp + ' UTC answered ' + response.status;
  } catch (e) {
    document.getElementById('refreshed').textContent = ', failed: ' + e;
  } finally {
    refreshing = false;
  }
}

if (live) {
  const secs = Number(live.dataset.refreshSecs) || 10;
  setInterval(refresh, secs * 1000);
}

// Retry and discard buttons: one dead job (data-id) or every dead job of a queue.
document.addEventListener('click', async (event) => {
  const button = event.target.closest('button[data-action][data-queue]');
  if (!button) return;
  const action = button.dataset.action;
  if (action === 'discard' && !confirm('Discard dead job ' + button.dataset.id + '? Its rows stay as they are.')) return;
  const body = button.dataset.id ? { ids: [button.dataset.id] } : { all: true };
  const url = '/api/queues/' + encodeURIComponent(button.dataset.queue) + '/dead/' + action;
  button.disabled = true;
  const response = await fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf ? csrf.content : '' },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  const done = action === 'retry' ? 'queued again: ' + answer.retried : 'discarded: ' + answer.discarded;
  document.getElementById('action-result').textContent = response.ok
    ? done
    : response.status + ' ' + (answer.error || '') + ': ' + (answer.message || '');
  button.disabled = false;
  if (response.ok) refresh();
});
