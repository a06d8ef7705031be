#!/usr/bin/env python3
"""Summarise the RESULT lines of bench/full-copy.sh as a markdown table: min / median over runs.

usage: bench/summarize.py [--batch ID|latest|all] [results.txt]
       (default: the latest batch in $PGB_RESULTS/results.txt, /tmp/pgshift-bench/results/results.txt)

`x pgshift` is the method's median time divided by PgShift's median time in the same batch and scale:
above 1 the method is slower than PgShift, below 1 it is faster."""
import argparse, os, statistics
from collections import defaultdict

ap = argparse.ArgumentParser()
ap.add_argument("--batch", default="latest")
ap.add_argument("path", nargs="?", default=os.path.join(
    os.environ.get("PGB_RESULTS", os.path.join(os.environ.get("PGB_ROOT", "/tmp/pgshift-bench"), "results")), "results.txt"))
args = ap.parse_args()

rows = []
for line in open(args.path):
    if line.startswith("RESULT "):
        r = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
        if "run" in r and "batch" in r:
            rows.append(r)
if not rows:
    raise SystemExit(f"no full-copy RESULT lines in {args.path}")
batch = rows[-1]["batch"] if args.batch == "latest" else args.batch
if batch != "all":
    rows = [r for r in rows if r["batch"] == batch]

ORDER = ["pgshift", "pg_dump", "pg_dump_z0", "pgcopydb", "copy_binary"]
groups = defaultdict(list)
for r in rows:
    groups[(int(r.get("scale", 0)), r["tool"])].append(r)

def num(v):
    try: return float(v)
    except (TypeError, ValueError): return None

def fmt(x):
    return "n/a" if x is None else f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}"

def values(rs, key):
    return [x for x in (num(r.get(key)) for r in rs) if x is not None]

def mm(rs, key, best=min):
    v = values(rs, key)
    if not v: return "n/a"
    return f"{fmt(best(v))} / {fmt(statistics.median(v))}" if len(v) > 1 else fmt(v[0])

def ok_seconds(rs):  # only runs that worked count for the time
    return values([r for r in rs if r.get("exit", "0") == "0" and r.get("verify") == "ok"], "seconds")

print(f"\n### Full copy, batch {batch} (best / median over runs; MB/s = source database size / time)\n")
print("| method | scale | runs | verify | seconds | MB/s | x pgshift | schema s | data s | post-data s | analyze s | peak RSS MB (max / median) | notes |")
print("|---" * 13 + "|")
for scale in sorted({k[0] for k in groups}):
    base = ok_seconds(groups.get((scale, "pgshift"), []))
    base_med = statistics.median(base) if base else None
    for tool in sorted({k[1] for k in groups if k[0] == scale}, key=lambda t: (ORDER.index(t) if t in ORDER else 99, t)):
        rs = groups[(scale, tool)]
        good = ok_seconds(rs)
        ratio = fmt(statistics.median(good) / base_med) if good and base_med else "n/a"
        # Time and rate only over the runs that worked; a failed run's time says nothing about speed.
        timed = [r for r in rs if r.get("exit", "0") == "0" and r.get("verify") == "ok"]
        secs, rate = (mm(timed, "seconds"), mm(timed, "mb_per_s", best=max)) if timed else ("failed", "n/a")
        verify = ",".join(sorted({r.get("verify", "?") for r in rs}))
        notes = []
        if tool == "copy_binary": notes.append("data only, into the pre-data schema")
        if tool.startswith("pg_dump"): notes.append(f"dump {mm(rs, 'dump_seconds')} s + restore {mm(rs, 'restore_seconds')} s")
        if tool == "pgshift":
            notes.append("commit " + ",".join(sorted({r.get("commit", "?") for r in rs})))
            notes.append(f"its own data phase {mm(rs, 'own_data_s')} s")
            args = sorted({r.get("args", "none") for r in rs} - {"none"})
            if args: notes.append("options " + " ".join(a.replace(",", " ") for a in args))
            left = sorted({r.get("source_leftovers", "none") for r in rs} - {"none"})
            if left: notes.append("left on source: " + ",".join(left))
        seqs = sorted({r.get("sequences", "?") for r in rs})
        if seqs != ["same"] and tool != "copy_binary": notes.append("sequences " + ",".join(seqs))
        loads = values(rs, "load_after")
        if loads and max(loads) > 4: notes.append(f"busy machine: load average up to {max(loads):.1f}")
        bad_exit = sorted({r.get("exit", "0") for r in rs} - {"0"})
        if bad_exit: notes.append("exit " + ",".join(bad_exit))
        rss = mm(rs, "peak_rss_mb", best=max) if all(num(r.get("peak_rss_mb")) is not None for r in rs) \
            else ",".join(sorted({r.get("peak_rss_mb", "") for r in rs} - {""})) or "n/a"
        print(f"| {tool} | {scale} | {len(rs)} | {verify} | {secs} | {rate} | {ratio} | "
              f"{mm(rs, 'pre_s')} | {mm(rs, 'copy_s')} | {mm(rs, 'post_s')} | {mm(rs, 'maint_s')} | {rss} | {'; '.join(notes)} |")
print("\nschema/data/post-data s: from the target's pg_stat_activity, sampled: before the first COPY, first to last "
      "COPY, after the last COPY (pg_dump: the dump's time counts as schema). peak RSS: the client's largest process "
      "(GNU time; pg_dump as dump/restore).")
