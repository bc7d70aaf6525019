# Summarises sqlite-write-lock.bt's lines: how long the write lock was held,
# what share of the wall time someone held it, how long it lay idle between
# holders, and the tries that found it held by another process. (gawk: asort.)
$4 == 1 && $5 == 0 {
  held[$2] = $1
  if (first == 0) first = $1
  if (released > 0) {
    gap = $1 - released; gaps[n_gaps++] = gap
    if (gap > 1e6) { long_gaps++; long_gap_ns += gap }
  }
  next
}
$4 == 1 && $5 != 0 { refused++; next }
$4 == 2 && ($2 in held) {
  d = $1 - held[$2]; delete held[$2]; released = $1; last = $1
  total += d; holds[n_holds++] = d; if (d > max) max = d
  by_pid[$2] += d; holds_of[$2]++
}
END {
  if (n_holds == 0) { print "no holds seen"; exit 1 }
  wall = last - first
  printf "holds %d, tries refused %d, wall %.2f s\n", n_holds, refused, wall / 1e9
  printf "lock held %.2f s = %.1f %% of wall; mean hold %.2f ms, max %.1f ms\n", total / 1e9, 100 * total / wall, total / n_holds / 1e6, max / 1e6
  asort(holds)
  printf "hold p50 %.2f ms, p90 %.2f ms, p99 %.2f ms\n", holds[int(n_holds * 0.5)] / 1e6, holds[int(n_holds * 0.9)] / 1e6, holds[int(n_holds * 0.99)] / 1e6
  asort(gaps)
  printf "idle between holds: p50 %.3f ms, p90 %.3f ms, p99 %.2f ms; %d gaps over 1 ms, %.2f s in all\n", gaps[int(n_gaps * 0.5)] / 1e6, gaps[int(n_gaps * 0.9)] / 1e6, gaps[int(n_gaps * 0.99)] / 1e6, long_gaps, long_gap_ns / 1e9
  for (p in by_pid) printf "  pid %s: %d holds, %.2f s\n", p, holds_of[p], by_pid[p] / 1e9
}
