#!/usr/bin/env python3
"""Medians of several bench/compare runs, against issue #12's targets (sluice vs nginx, same run).

One idea: every ratio is taken inside one run (sluice and nginx measured minutes apart on the
same machine), and the table shows the median over runs of each number and each ratio, with
every run's value beside it, so noise is visible rather than averaged away.

Usage: medians.py RAW_DIR [RAW_DIR ...]   (the *.raw directories bench/compare leaves in
bench/compare.d/results; `bench/compare.d/repeat N` runs bench/compare N times and calls this).
To add a target, add a row to ROWS: (label, function of one run's data -> number or None,
target text, predicate on the median).
"""
import json
import os
import statistics
import sys


def load(raw):
    runs = {}
    with open(os.path.join(raw, "runs.tsv")) as f:
        for line in f:
            if not line.strip():
                continue
            t, wl, kind, label, ticks, ns, *_ = line.rstrip("\n").split("\t")
            p = os.path.join(raw, label + ".json")
            d = None
            if os.path.exists(p) and os.path.getsize(p) > 0:
                with open(p) as fh:
                    d = json.load(fh)
            if d and d["requests"]["ok"] > 0:
                runs[(t, wl, kind)] = {"ns": int(ns), "d": d}
    return runs


def total(d):
    q = d["requests"]
    return q["completed"] + q["warmup"] + q.get("unfinished", 0)


def cpu(runs, t, wl, kind):
    r = runs.get((t, wl, kind))
    return r["ns"] / 1e3 / total(r["d"]) if r and total(r["d"]) else None


def pct(runs, t, wl, kind, metric, p="p50"):
    r = runs.get((t, wl, kind))
    return r["d"][metric][p] if r and metric in r["d"] else None


def added(runs, t, wl, metric):
    v, b = pct(runs, t, wl, "c1", metric), pct(runs, "direct", wl, "c1", metric)
    return v - b if v is not None and b is not None else None


def rps(runs, t):
    r = runs.get((t, "chat", "max"))
    return r["d"]["requests"]["rps"] if r else None


def ratio(a, b):
    return a / b if a is not None and b else None


S = "sluice-routed"
ROWS = [
    ("small chat CPU µs/req at max: sluice (3 deployments + key + limits)", lambda r: cpu(r, S, "chat", "max"), None),
    ("small chat CPU µs/req at max: nginx", lambda r: cpu(r, "nginx", "chat", "max"), None),
    ("  ratio sluice / nginx at max", lambda r: ratio(cpu(r, S, "chat", "max"), cpu(r, "nginx", "chat", "max")), "≤ 1.0×"),
    ("small chat CPU µs/req @1000/s: sluice", lambda r: cpu(r, S, "chat", "r1000"), None),
    ("small chat CPU µs/req @1000/s: nginx", lambda r: cpu(r, "nginx", "chat", "r1000"), None),
    ("  ratio sluice / nginx @1000/s", lambda r: ratio(cpu(r, S, "chat", "r1000"), cpu(r, "nginx", "chat", "r1000")), "≤ 1.0×"),
    ("max req/s: sluice", lambda r: rps(r, S), None),
    ("max req/s: nginx", lambda r: rps(r, "nginx"), None),
    ("  ratio sluice / nginx", lambda r: ratio(rps(r, S), rps(r, "nginx")), "≥ 1.0×"),
    ("added p50 at 1 connection µs: sluice", lambda r: added(r, S, "chat", "latency_us"), None),
    ("added p50 at 1 connection µs: nginx", lambda r: added(r, "nginx", "chat", "latency_us"), None),
    ("  sluice minus nginx µs", lambda r: (lambda a, b: a - b if a is not None and b is not None else None)(
        added(r, S, "chat", "latency_us"), added(r, "nginx", "chat", "latency_us")), "≤ 0"),
    ("100-token stream CPU µs/stream: sluice", lambda r: cpu(r, S, "stream", "max"), None),
    ("100-token stream CPU µs/stream: nginx", lambda r: cpu(r, "nginx", "stream", "max"), None),
    ("  ratio sluice / nginx", lambda r: ratio(cpu(r, S, "stream", "max"), cpu(r, "nginx", "stream", "max")), "≤ 1.0×"),
    ("added TTFT p50 at 1 connection µs: sluice", lambda r: added(r, S, "stream", "ttft_us"), None),
    ("added TTFT p50 at 1 connection µs: nginx", lambda r: added(r, "nginx", "stream", "ttft_us"), None),
    ("  sluice minus nginx µs", lambda r: (lambda a, b: a - b if a is not None and b is not None else None)(
        added(r, S, "stream", "ttft_us"), added(r, "nginx", "stream", "ttft_us")), "≤ 0"),
    ("small chat CPU µs/req at max: sluice, 1 deployment, no auth", lambda r: cpu(r, "sluice", "chat", "max"), None),
    ("  ratio to nginx", lambda r: ratio(cpu(r, "sluice", "chat", "max"), cpu(r, "nginx", "chat", "max")), None),
]


def verdict(target, m):
    if target is None or m is None:
        return ""
    if target.startswith("≤ 1.0"):
        return "met" if m <= 1.0 else f"**missed** by {(m - 1) * 100:.0f}%"
    if target.startswith("≥ 1.0"):
        return "met" if m >= 1.0 else f"**missed** by {(1 - m) * 100:.0f}%"
    if target == "≤ 0":
        return "met" if m <= 0 else f"**missed** by {m:.1f} µs"
    return ""


def fmt(v):
    if v is None:
        return "-"
    return f"{v:.2f}" if abs(v) < 10 else f"{v:,.1f}"


def main():
    raws = sys.argv[1:]
    if not raws:
        print(__doc__)
        return 2
    data = [load(r) for r in raws]
    print(f"Medians of {len(raws)} bench/compare runs: " + ", ".join(os.path.basename(r.rstrip('/')) for r in raws))
    print()
    print("| measure | median | runs | #12 target | verdict |")
    print("|---|---|---|---|---|")
    for label, f, target in ROWS:
        vals = [f(d) for d in data]
        ok = [v for v in vals if v is not None]
        m = statistics.median(ok) if ok else None
        print(f"| {label} | {fmt(m)} | {' / '.join(fmt(v) for v in vals)} | {target or ''} | {verdict(target, m)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
