#!/usr/bin/env python3
"""Summarises a pipeline trace (DSR_TRACE_PIPELINE=FILE, runtime/src/stream/trace.rs).

Usage: scripts/trace-summary.py TRACE.csv [--batches]

The trace holds every run of the process; a run is a stretch of events between moments when
nothing was in flight (no read issued and not done, no GPU batch submitted and not retired,
no piece unfinished). Known limit of that rule: a large stream's head read finishes before
its tile reads are issued, so it shows as a run of one read of its own, and a head finishing
after the next run's first reads merges two runs into one (a run of ~2x the reads): read
such lines as artefacts, not as runs (a request-level event would fix it). Per run it prints: its span, when the first and last reads completed,
the GPU batches (count, tiles, how long each was on the GPU as the host saw it: submit to
retire), the fraction of the run with at least one batch on the GPU, the mean number of tiles
on the GPU, and how often ready pieces waited for a batch slot. --batches lists every batch.
"""
import sys


def runs(events):
    cur, reads, batches, pieces = [], 0, 0, 0
    for ev in events:
        cur.append(ev)
        t, kind, a, b, c = ev
        if kind == "read_issued":
            reads += 1
            pieces += 1
        elif kind == "read_done":
            reads -= 1
        elif kind == "batch_submitted":
            batches += 1
        elif kind == "batch_retired":
            batches -= 1
        elif kind == "piece_done":
            pieces -= 1
        if reads == 0 and batches == 0 and pieces <= 0 and kind == "piece_done":
            yield cur
            cur, pieces = [], 0
    if cur:
        yield cur


def summarise(run, list_batches):
    t0 = run[0][0]
    t1 = run[-1][0]
    span = (t1 - t0) / 1000.0
    done = [t for t, k, *_ in run if k == "read_done"]
    read_bytes = sum(b for _, k, a, b, c in run if k == "read_done")
    sub = {a: (t, b, c) for t, k, a, b, c in run if k == "batch_submitted"}
    ret = {a: t for t, k, a, *_ in run if k == "batch_retired"}
    deferred = sum(1 for _, k, *_ in run if k == "batch_deferred")
    batches = sorted((s[0], ret.get(v, t1), s[1], s[2], v) for v, s in sub.items())
    tiles = sum(b[3] for b in batches)
    # Busy time (union of [submit, retire]) and the time integral of tiles on the GPU.
    edges = sorted([(s, +1, n) for s, r, p, n, v in batches] + [(r, -1, n) for s, r, p, n, v in batches])
    busy, inflight, area, last, running = 0, 0, 0.0, t0, 0
    for t, d, n in edges:
        if running > 0:
            busy += t - last
        area += inflight * (t - last)
        running += d
        inflight += d * n
        last = t
    print(f"run: {span:.2f} ms, {len(done)} reads ({read_bytes / 1e6:.1f} MB), "
          f"first read done at {(done[0] - t0) / 1000.0 if done else 0:.2f} ms, "
          f"last at {(done[-1] - t0) / 1000.0 if done else 0:.2f} ms")
    if batches:
        dur = sorted((r - s) / 1000.0 for s, r, *_ in batches)
        print(f"  GPU: {len(batches)} batches, {tiles} tiles, first submitted at "
              f"{(batches[0][0] - t0) / 1000.0:.2f} ms, last retired at "
              f"{(max(r for _, r, *_ in batches) - t0) / 1000.0:.2f} ms; batch on the GPU "
              f"median {dur[len(dur) // 2]:.2f} ms [{dur[0]:.2f}-{dur[-1]:.2f}]; "
              f"busy {100.0 * busy / max(t1 - t0, 1):.0f}% of the run; mean tiles on the GPU "
              f"{area / max(t1 - t0, 1):.0f}; {deferred} deferrals")
    if list_batches:
        for s, r, p, n, v in batches:
            print(f"    value {v}: submitted {(s - t0) / 1000.0:8.2f} ms, retired "
                  f"{(r - t0) / 1000.0:8.2f} ms ({(r - s) / 1000.0:6.2f}), {p} pieces, {n} tiles")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    events = []
    with open(sys.argv[1]) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            t, k, a, b, c = line.strip().split(",")
            events.append((int(t), k, int(a), int(b), int(c)))
    events.sort(key=lambda e: e[0])
    for run in runs(events):
        summarise(run, "--batches" in sys.argv)


if __name__ == "__main__":
    main()
