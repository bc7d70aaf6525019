#!/usr/bin/env python3
"""Moves the last row of every Nth order of an items-format file DISTANCE lines
further down (BENCHMARKS.md, issue 17): rows of one order far apart, as seen in
real exports. Streams: memory is bounded by DISTANCE, not by the file.

    python3 scripts/scatter-rows.py IN OUT [every=250] [distance=100000]
"""
import collections
import sys

src, dst = sys.argv[1], sys.argv[2]
every = int(sys.argv[3]) if len(sys.argv) > 3 else 250
distance = int(sys.argv[4]) if len(sys.argv) > 4 else 100_000

with open(src, newline="") as fin, open(dst, "w", newline="") as fout:
    fout.write(fin.readline())
    held = collections.deque()  # (line to write after, row)
    line = 1
    order_no = 0
    current, group = None, []

    def emit(row):
        global line
        line += 1
        fout.write(row)
        while held and held[0][0] <= line:
            line += 1
            fout.write(held.popleft()[1])

    def flush():
        global order_no
        if not group:
            return
        order_no += 1
        if order_no % every == 0 and len(group) > 1:
            for row in group[:-1]:
                emit(row)
            held.append((line + distance, group[-1]))
        else:
            for row in group:
                emit(row)

    for row in fin:
        order = row.split(",", 1)[0]
        if order != current:
            flush()
            current, group = order, []
        group.append(row)
    flush()
    for _, row in held:
        fout.write(row)
