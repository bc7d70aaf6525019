-- wrk script for scripts/bench_metrics.sh: fails the run when any answer was
-- not 2xx (a fast error is not a fast endpoint). No per-response callback: it
-- would cost wrk more CPU than the server spends on a request.
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("[bench] non-2xx answers: %d; socket errors: connect %d, read %d, write %d, timeout %d\n",
    errors.status, errors.connect, errors.read, errors.write, errors.timeout))
  io.write(string.format("[bench] requests/s %.0f, p50 %.2f ms, p99 %.2f ms\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000))
  if errors.status + errors.connect + errors.read + errors.write > 0 then
    os.exit(1)
  end
end
