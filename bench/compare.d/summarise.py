#!/usr/bin/env python3
"""Summarise one bench/compare run as markdown: the tables, ratios and issue targets.

Reads the run directory bench/compare fills: meta.txt (command, date, machine, versions),
runs.tsv (one line per sluice-load run: target, workload, kind, label, CPU ticks and ns of the
target's processes around the run, process count, requests the mock received, exit status),
targets.tsv (target, processes, idle RSS kB, peak RSS kB), notes.txt, and LABEL.json (the
sluice-load JSON of each run). The one idea: every number printed comes from those files, and
every "added" latency is the target's percentile minus the direct mock's in the same run.
Usage: summarise.py RUN_DIR CORES
"""
import json
import os
import sys

RUN = sys.argv[1]
CORES = int(sys.argv[2]) if len(sys.argv) > 2 else os.cpu_count()
HZ = os.sysconf("SC_CLK_TCK")

LABELS = {
    "direct": "direct (mock)",
    "nginx": "nginx",
    "sluice": "sluice, 1 deployment, no auth",
    "sluice-routed": "sluice, 3 deployments + key + limits",
    "sluice-routed-log": "  same, access log on",
    "sluice-cache": "sluice, cache hit",
    "portkey": "Portkey",
}
ORDER = list(LABELS)


def read_tsv(name):
    path = os.path.join(RUN, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


runs = {}  # (target, workload, kind) -> dict
for t, wl, kind, label, ticks, ns, nprocs, mock_delta, rc, mocks_ns, busy_j, total_j in read_tsv("runs.tsv"):
    r = {"ticks": int(ticks), "ns": int(ns), "nprocs": int(nprocs), "mock": int(mock_delta),
         "rc": int(rc), "label": label, "d": None, "mocks_ns": int(mocks_ns),
         "busy_j": int(busy_j), "total_j": int(total_j)}
    p = os.path.join(RUN, label + ".json")
    if os.path.exists(p) and os.path.getsize(p) > 0:
        with open(p) as f:
            r["d"] = json.load(f)
    runs[(t, wl, kind)] = r
targets = {t: {"nprocs": int(n), "idle": int(i), "peak": int(pk)}
           for t, n, i, pk in read_tsv("targets.tsv")}
meta = open(os.path.join(RUN, "meta.txt")).read().strip().splitlines()
notes = [l for l in open(os.path.join(RUN, "notes.txt")).read().splitlines() if l.strip()]
rates = sorted({int(k[2][1:]) for k in runs if k[1] == "chat" and k[2].startswith("r")})
srates = sorted({int(k[2][1:]) for k in runs if k[1] == "stream" and k[2].startswith("r")})
present = [t for t in ORDER if any(k[0] == t for k in runs)]


def get(t, wl, kind):
    r = runs.get((t, wl, kind))
    return r if r and r["d"] and r["d"]["requests"]["ok"] > 0 else None


def total_requests(d):
    q = d["requests"]
    return q["completed"] + q["warmup"] + q.get("unfinished", 0)


def cpu_us(r, source):
    """CPU time of the target's processes per request (all requests the run sent)."""
    if not r:
        return None
    n = total_requests(r["d"])
    if n <= 0:
        return None
    if source == "ticks":
        return r["ticks"] * 1e6 / HZ / n
    return r["ns"] / 1e3 / n


def pct(r, metric, p):
    if not r or metric not in r["d"]:
        return None
    return r["d"][metric][p]


def fmt_us(v, plus=False):
    if v is None:
        return "-"
    s = "+" if plus and v >= 0 else ""
    a = abs(v)
    if a >= 10000:
        return f"{s}{v / 1000:.1f} ms"
    if a >= 100:
        return f"{s}{v:.0f} µs"
    return f"{s}{v:.1f} µs"


def fmt_num(v, unit=""):
    if v is None:
        return "-"
    return f"{v:,.0f}{unit}"


def fmt_cpu(v):
    if v is None:
        return "-"
    return f"{v:.1f}" if v < 100 else f"{v:,.0f}"


def added(t, wl, kind, metric, p):
    """(value, is_added): target percentile minus direct's, or direct's own value."""
    v = pct(get(t, wl, kind), metric, p)
    if v is None:
        return None, False
    if t == "direct":
        return v, False
    base = pct(get("direct", wl, kind), metric, p)
    return (v - base, True) if base is not None else (v, False)


def cell(t, wl, kind, metric, p):
    v, is_added = added(t, wl, kind, metric, p)
    return fmt_us(v, plus=is_added)


def errors_mark(t, wl):
    bad = []
    for (tt, w, k), r in sorted(runs.items()):
        if tt != t or w != wl:
            continue
        d = r["d"]
        if not d:
            bad.append(f"{k}: no result (sluice-load exit {r['rc']})")
        elif d["requests"]["errors"] or d["requests"].get("unfinished", 0):
            fe = "; ".join(f"{c}: {m}" for c, m in d.get("first_errors", {}).items())
            bad.append(f"{k}: {d['requests']['errors']} errors of {d['requests']['completed']}"
                       + (f" ({fe})" if fe else ""))
    return bad


def rss_cell(t):
    x = targets.get(t)
    if not x:
        return "-"
    return f"{x['idle'] / 1024:.1f} / {x['peak'] / 1024:.1f} ({x['nprocs']})"


out = []
w = out.append
w("## bench/compare run")
w("")
for line in meta:
    w(f"- {line}")
w("")
w("Added latency is the target's percentile minus the mock's own (`direct`) in the same run;")
w("open-loop latency counts from the scheduled send time. CPU is the target's processes only")
w("(sluice and nginx: master + workers; Portkey: the node process; `direct`: the mock), per")
w("request sent (warmup included), from the run time of every thread of those processes in")
w("/proc/PID/task/TID/schedstat: the clock utime+stime in /proc/PID/stat is scaled to, without")
w(f"its {1000 // HZ} ms rounding (the utime+stime figures are in the notes as a cross-check). RSS: VmRSS")
w("summed over the processes when idle after start, and VmHWM summed at the end (processes in")
w("parentheses; pages shared between a master and its workers are counted in each).")
w("")

# ---- non-streaming table
w("### Small non-streaming chat")
w("")
hdr = ["target", "p50, 1 conn", "p99, 1 conn"]
for r in rates:
    hdr += [f"p50 @{r:,}/s", f"p99 @{r:,}/s"]
hdr += ["max req/s", "CPU µs/req at max", f"CPU µs/req @{rates[0]:,}/s" if rates else "CPU µs/req",
        "RSS MB idle / peak"]
w("| " + " | ".join(hdr) + " |")
w("|" + "---|" * len(hdr))
for t in present:
    if not any(k[0] == t and k[1] == "chat" for k in runs):
        continue
    row = [LABELS[t] + (" ⚠" if errors_mark(t, "chat") else ""),
           cell(t, "chat", "c1", "latency_us", "p50"), cell(t, "chat", "c1", "latency_us", "p99")]
    for r in rates:
        row += [cell(t, "chat", f"r{r}", "latency_us", "p50"),
                cell(t, "chat", f"r{r}", "latency_us", "p99")]
    mx = get(t, "chat", "max")
    row += [fmt_num(mx["d"]["requests"]["rps"]) if mx else "-",
            fmt_cpu(cpu_us(mx, "ns")),
            fmt_cpu(cpu_us(get(t, "chat", f"r{rates[0]}"), "ns")) if rates else "-",
            rss_cell(t)]
    w("| " + " | ".join(row) + " |")
w("")
w("`direct` shows the mock's own latency and the mock's CPU; every other latency cell is added")
w("to it. `sluice, cache hit`: identical requests, answered from the cache after the first.")
w("")

# ---- streaming table
if any(k[1] == "stream" for k in runs):
    sr = srates[0] if srates else None
    w("### Streaming chat, 100 tokens (1 ms apart)")
    w("")
    hdr = ["target", "TTFT p50, 1 conn", "TTFT p99, 1 conn"]
    if sr:
        hdr += [f"TTFT p50 @{sr}/s", f"TTFT p99 @{sr}/s"]
    hdr += ["max streams/s", "CPU µs/stream", "CPU µs/chunk"]
    w("| " + " | ".join(hdr) + " |")
    w("|" + "---|" * len(hdr))
    for t in present:
        if not any(k[0] == t and k[1] == "stream" for k in runs):
            continue
        row = [LABELS[t] + (" ⚠" if errors_mark(t, "stream") else ""),
               cell(t, "stream", "c1", "ttft_us", "p50"), cell(t, "stream", "c1", "ttft_us", "p99")]
        if sr:
            row += [cell(t, "stream", f"r{sr}", "ttft_us", "p50"),
                    cell(t, "stream", f"r{sr}", "ttft_us", "p99")]
        mx = get(t, "stream", "max")
        cs = cpu_us(mx, "ns")
        ev = mx["d"].get("tokens", {}).get("events_per_stream") if mx else None
        row += [fmt_num(mx["d"]["requests"]["rps"]) if mx else "-", fmt_cpu(cs),
                f"{cs / ev:.2f}" if cs is not None and ev else "-"]
        w("| " + " | ".join(row) + " |")
    w("")
    w("CPU per chunk is the CPU per stream (max-throughput run) divided by its token events, so it")
    w("includes the per-request work too. Max streams/s with 1-ms token gaps is bounded by the mock")
    conns = next((r["d"]["config"]["connections"] for (t, wl, k), r in runs.items()
                  if wl == "stream" and k == "max" and r["d"]), "N")
    w(f"(a stream takes ~110 ms, so each of the {conns} connections carries at most ~9 streams/s).")
    w("")


# ---- ratios and targets
def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def fx(v, digits=2):
    return "-" if v is None else f"{v:.{digits}f}×"


S = "sluice-routed"
cpu_max = {t: cpu_us(get(t, "chat", "max"), "ns") for t in present}
cpu_rate = {t: cpu_us(get(t, "chat", f"r{rates[0]}"), "ns") if rates else None for t in present}
add_p50 = {t: added(t, "chat", "c1", "latency_us", "p50")[0] for t in present if t != "direct"}
mx_rps = {t: (get(t, "chat", "max")["d"]["requests"]["rps"] if get(t, "chat", "max") else None)
          for t in present}

w("### Ratios (same run)")
w("")
if "nginx" in present or "portkey" in present:
    w("| sluice row | CPU/req vs nginx (max) | CPU/req vs nginx "
      f"(@{rates[0] if rates else '-'}/s) | added p50 vs nginx (1 conn) | max req/s vs nginx "
      "| Portkey CPU/req ÷ sluice's (max) | Portkey added p50 ÷ sluice's | max req/s vs Portkey |")
    w("|---|---|---|---|---|---|---|---|")
    for t in ("sluice", "sluice-routed", "sluice-routed-log", "sluice-cache"):
        if t not in present or cpu_max.get(t) is None:
            continue
        dn = None
        if add_p50.get(t) is not None and add_p50.get("nginx") is not None:
            dn = add_p50[t] - add_p50["nginx"]
        w("| " + " | ".join([
            LABELS[t].strip(),
            fx(ratio(cpu_max.get(t), cpu_max.get("nginx"))),
            fx(ratio(cpu_rate.get(t), cpu_rate.get("nginx"))),
            "-" if dn is None else f"{fmt_us(dn, plus=True)} ({fmt_us(add_p50[t], True)} vs {fmt_us(add_p50['nginx'], True)})",
            fx(ratio(mx_rps.get(t), mx_rps.get("nginx"))),
            fx(ratio(cpu_max.get("portkey"), cpu_max.get(t)), 1),
            fx(ratio(add_p50.get("portkey"), add_p50.get(t)), 1),
            fx(ratio(mx_rps.get(t), mx_rps.get("portkey")), 1),
        ]) + " |")
    w("")

checks = []


def check(name, value_text, ok):
    checks.append((name, value_text, "-" if ok is None else ("met" if ok else "**missed**")))


r_cpu = ratio(cpu_max.get(S), cpu_max.get("nginx"))
check("passthrough with routing: CPU/request ≤ 1.5 × nginx's (max throughput)",
      "-" if r_cpu is None else f"{fmt_cpu(cpu_max[S])} vs {fmt_cpu(cpu_max['nginx'])} µs = {r_cpu:.2f}×"
      + ("" if r_cpu <= 1.5 else f", {(r_cpu / 1.5 - 1) * 100:.0f}% over the target"),
      None if r_cpu is None else r_cpu <= 1.5)
r_cpu2 = ratio(cpu_rate.get(S), cpu_rate.get("nginx"))
if rates:
    check(f"same at {rates[0]:,} req/s open loop",
          "-" if r_cpu2 is None else f"{fmt_cpu(cpu_rate[S])} vs {fmt_cpu(cpu_rate['nginx'])} µs = {r_cpu2:.2f}×",
          None if r_cpu2 is None else r_cpu2 <= 1.5)
a = add_p50.get(S)
check("added p50 at 1 connection ≤ 25 µs", fmt_us(a, True) +
      (f" (nginx {fmt_us(add_p50['nginx'], True)})" if add_p50.get("nginx") is not None else ""),
      None if a is None else a <= 25)
if 5000 in rates:
    a99, _ = added(S, "chat", "r5000", "latency_us", "p99")
    n99, _ = added("nginx", "chat", "r5000", "latency_us", "p99")
    own = pct(get(S, "chat", "r5000"), "latency_us", "p99")
    base = pct(get("direct", "chat", "r5000"), "latency_us", "p99")
    txt = fmt_us(a99, True) + (f" (nginx {fmt_us(n99, True)})" if n99 is not None else "")
    if a99 is not None and a99 < 0:
        txt += f"; the mock's own p99 ({fmt_us(base)}) was above sluice's ({fmt_us(own)}): noise, no verdict"
    check("added p99 at 5,000 req/s open loop < 200 µs", txt,
          None if a99 is None or a99 < 0 else a99 < 200)
mx = get(S, "stream", "max")
if mx:
    cs = cpu_us(mx, "ns")
    ev = mx["d"]["tokens"]["events_per_stream"] or 100
    ng = get("nginx", "stream", "max")
    check("streaming: proxy CPU per chunk ≤ 2 µs", f"{cs / ev:.2f} µs" +
          (f" (nginx {cpu_us(ng, 'ns') / ev:.2f} µs)" if ng else ""), cs / ev <= 2)
    tt, _ = added(S, "stream", "c1", "ttft_us", "p50")
    tn, _ = added("nginx", "stream", "c1", "ttft_us", "p50")
    check("streaming: added TTFT p50 < 50 µs (1 connection)", fmt_us(tt, True) +
          (f" (nginx {fmt_us(tn, True)})" if tn is not None else ""), None if tt is None else tt < 50)
hit, miss = get("sluice-cache", "chat", "max"), get("sluice-cache", "chat", "miss")
if hit and miss:
    rr = hit["d"]["requests"]["rps"] / max(miss["d"]["requests"]["rps"], 1)
    up = hit["mock"] / max(total_requests(hit["d"]), 1)
    check("cache hit: ≥ 2 × the throughput of a proxied miss",
          f"{hit['d']['requests']['rps']:,.0f} vs {miss['d']['requests']['rps']:,.0f} req/s = {rr:.2f}× "
          f"({up * 100:.2f}% of hit-run requests reached the mock)", rr >= 2)
elif "sluice-cache" in " ".join(notes) or any(k[0] == "sluice-cache" for k in runs):
    check("cache hit: ≥ 2 × the throughput of a proxied miss", "not yet (no cache hits in this build)", None)
tg = targets.get(S)
if tg:
    workers = max(tg["nprocs"] - 1, 1)
    per = tg["idle"] / 1024 / tg["nprocs"]
    check("idle RSS per worker < 16 MB", f"{per:.1f} MB per process ({tg['nprocs']} processes, "
          f"{tg['idle'] / 1024:.1f} MB in all, shared pages counted in each)", per < 16)
if cpu_max.get("sluice-routed-log") is not None and cpu_max.get(S) is not None:
    d = cpu_max["sluice-routed-log"] - cpu_max[S]
    check("(for information) access log cost", f"{d:+.1f} µs CPU/request with the access log on "
          f"({fmt_cpu(cpu_max['sluice-routed-log'])} vs {fmt_cpu(cpu_max[S])})", None)
w("### Issue 7 targets (sluice = 3 deployments + key + limits, access log off)")
w("")
w("| target | measured | |")
w("|---|---|---|")
for name, val, ok in checks:
    w(f"| {name} | {val} | {ok} |")
w("")

bad = []
for t in present:
    for wl in ("chat", "stream"):
        for b in errors_mark(t, wl):
            bad.append(f"{t} {wl} {b}")
xcheck = []
for (t, wl, k), r in sorted(runs.items()):
    if k == "max" and r["d"] and t != "direct":
        xcheck.append(f"{t}/{wl} {fmt_cpu(cpu_us(r, 'ticks'))} ({r['ticks']} ticks)")
others = []
for (t, wl, k), r in sorted(runs.items()):
    if not r["d"] or r["total_j"] <= 0:
        continue
    g = r["d"]["generator"]
    used = r["mocks_ns"] / 1e9 + g["cpu_user_s"] + g["cpu_sys_s"]
    if t != "direct":
        used += r["ns"] / 1e9
    other = max(r["busy_j"] / HZ - used, 0) / (r["total_j"] / HZ)
    others.append((other, f"{t}/{wl}/{k}"))
gens = []
for (t, wl, k), r in sorted(runs.items()):
    if k == "max" and r["d"]:
        gens.append(f"{t}/{wl} {r['d']['generator']['cpu_pct_of_core']:.0f}%")
if xcheck:
    notes.append("CPU µs/request at max throughput from utime+stime (cross-check): " + ", ".join(xcheck))
if others:
    worst = max(others)
    mean = sum(o for o, _ in others) / len(others)
    notes.append(f"CPU used by other processes on the machine during the runs (the whole machine's busy "
                 f"time minus target, mocks and sluice-load): mean {mean * 100:.1f}%, worst "
                 f"{worst[0] * 100:.1f}% of the machine ({worst[1]})"
                 + (f"; {sum(1 for o, _ in others if o > 0.10)} of {len(others)} runs above 10%: "
                    "treat this run's numbers as noisy" if worst[0] > 0.10 else ""))
if notes or bad or gens:
    w("Notes:")
    w("")
    for n in notes:
        w(f"- {n}")
    for b in bad:
        w(f"- ⚠ {b}")
    if gens:
        w(f"- sluice-load's own CPU in the max-throughput runs (of one core; {CORES} cores shared by "
          "generator, mock and proxy): " + ", ".join(gens))
    w("")
print("\n".join(out))
