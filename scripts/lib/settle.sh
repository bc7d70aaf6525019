# Sourced by bench.sh and cluster.sh: wait until a run has nothing left to do.
#
# Uses: $bin (the orders-flow-cli binary), $PORT, $API_TOKENS, $stall_secs and
# the array `run_on` (a command prefix that runs a command on the web host:
# empty on one machine, `ip netns exec NS` in the cluster). Sets `stalled`.
#
# Waiting must not cost the run: the queue counts come from Redis through the
# API (cheap) and are summed with grep and awk (measured: polling through an
# interpreter every 0.5 s took about 9 % of the machine's CPU, and a task
# process per poll boots the whole app). The full database status (counts over
# every order) only runs once every queue is idle, to confirm nothing is left.

# Jobs pending, scheduled or running in an /api/queues answer.
# (No match, as in an error answer, is 0: grep's status must not end the run.)
jobs_waiting_in() { { grep -oE '"(pending|scheduled|running)":[0-9]+' <<<"$1" || true; } | awk -F: '{s += $2} END {print s + 0}'; }
queue_counts() {
  "${run_on[@]}" curl -fs -H "Authorization: Bearer $API_TOKENS" "http://localhost:$PORT/api/queues"
}
queued_jobs() {
  local counts
  counts=$(queue_counts) || { echo 1; return; }
  jobs_waiting_in "$counts"
}
pipeline_status() { "${run_on[@]}" "$bin" task orders_status format=json 2>/dev/null; }

# A run that stops moving fails instead of waiting forever: no change in the
# queue counts (or, once the queues are empty, in the database's) for
# stall_secs ends the wait with the queues' state printed.
wait_until_settled() {
  local last_seen="" last_change counts seen waiting s
  last_change=$(date +%s)
  stalled=false
  while true; do
    sleep 0.5
    counts=$(queue_counts || echo unreachable)
    seen="$counts"
    waiting=$(jobs_waiting_in "$counts")
    if [[ "$counts" != unreachable && "$waiting" -eq 0 ]]; then
      s=$(pipeline_status)
      # `settled`: orders exist, none open, no notification queued, no KPI event unapplied.
      if grep -q '"settled":true' <<<"$s" && [[ "$(queued_jobs)" -eq 0 ]]; then
        return
      fi
      seen+=" $s"
    fi
    if [[ "$seen" != "$last_seen" ]]; then
      last_seen="$seen"; last_change=$(date +%s)
    elif (( $(date +%s) - last_change > stall_secs )); then
      echo "STALLED: nothing moved for ${stall_secs}s; queues: $counts" >&2
      stalled=true
      return
    fi
  done
}
