# Sourced by bench.sh and bench_stream.sh: forget a run's Redis keys.
#
# forget_redis_prefix PREFIX deletes every key under PREFIX and takes the run's
# queues out of apalis-redis's global list of every queue it ever saw
# (`core:apalis:queues:list`), 1,000 per call. Never fails the caller.
forget_redis_prefix() {
  local prefix=$1
  redis-cli --scan --pattern "$prefix:*" | xargs -r -n 1000 redis-cli del >/dev/null || true
  redis-cli zrange core:apalis:queues:list 0 -1 | grep -F "$prefix:" \
    | xargs -r -n 1000 redis-cli zrem core:apalis:queues:list >/dev/null || true
}
