#!/usr/bin/env bash
# Moves the last row of every Nth order of an items-format file DISTANCE lines
# further down (BENCHMARKS.md, issue 17): rows of one order far apart, as seen in
# real exports. Streams: memory is bounded by DISTANCE, not by the file.
#
#   bash scripts/scatter-rows.sh IN OUT [every=250] [distance=100000]
set -euo pipefail
[[ $# -ge 2 ]] || { echo "usage: $0 IN OUT [EVERY] [DISTANCE]" >&2; exit 2; }
in=$1 out=$2 every=${3:-250} distance=${4:-100000}
[[ "$every" =~ ^[1-9][0-9]*$ && "$distance" =~ ^[0-9]+$ ]] \
  || { echo "EVERY is a whole number above 0, DISTANCE a whole number" >&2; exit 2; }
[[ -r "$in" ]] || { echo "cannot read $in" >&2; exit 2; }

# Rows of one order are adjacent in the input (as the generator writes them);
# a held row is written once `distance` more lines have gone out. Held rows
# become due in the order they were held, so a queue (head..tail) is enough.
awk -v every="$every" -v distance="$distance" '
  function emit(row) {
    line++; print row
    while (head < tail && due[head] <= line) {
      line++; print held[head]; delete held[head]; delete due[head]; head++
    }
  }
  function flush(   i) {
    if (n == 0) return
    order_no++
    if (order_no % every == 0 && n > 1) {
      for (i = 1; i < n; i++) emit(group[i])
      due[tail] = line + distance; held[tail] = group[n]; tail++
    } else {
      for (i = 1; i <= n; i++) emit(group[i])
    }
    n = 0
  }
  NR == 1 { print; line = 1; next }
  {
    comma = index($0, ",")
    order = comma ? substr($0, 1, comma - 1) : $0
    if (order != current) { flush(); current = order }
    group[++n] = $0
  }
  END { flush(); while (head < tail) print held[head++] }
' "$in" >"$out"
