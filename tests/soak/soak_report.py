#!/usr/bin/env python3
"""Reads what scripts/soak.sh left in its output directory and prints the soak report.

Calls and lost calls per kind (from each dialer's SIPp statistics and -trace_logs lines), RSS
and open file descriptors at the start and the end and their slope after warm-up (a
least-squares line through the per-second samples), PDD percentiles per minute of the traffic
window (from the ANSWERED;<INVITE epoch s>;<pdd ms> log lines), RouteCall and config-write
counts. A call is lost when it did not end the way its kind must: answered (kinds answer, r503,
r503ra, silent, hangup), 486 or answered by the backup (busy) or 487 after the caller's CANCEL (cancel); SIPp's failed
calls (timeouts, unexpected messages) are lost too.
"""
import argparse
import csv
import os
import sys

EXPECTED_FINAL = {"busy": "486", "cancel": "487"}


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def slope_per_min(points):
    """Least-squares slope of (t seconds, y) in y per minute."""
    n = len(points)
    if n < 2:
        return float("nan")
    mt = sum(t for t, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    if den == 0:
        return float("nan")
    return 60.0 * sum((t - mt) * (y - my) for t, y in points) / den


def last_stats(path):
    """The last row of a SIPp -trace_stat file as a dict (';'-separated)."""
    if not os.path.exists(path):
        return {}
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--start", type=float, required=True)
    ap.add_argument("--stop", type=float, required=True)
    ap.add_argument("--idle-fds", type=int, required=True)
    ap.add_argument("--end-fds", type=int, required=True)
    ap.add_argument("--active-calls", default="?")
    ap.add_argument("--load", default="?")
    ap.add_argument("--warmup-s", type=float, default=None)
    a = ap.parse_args()
    d = a.dir

    kinds = []
    with open(os.path.join(d, "dialers.txt")) as f:
        for line in f:
            k, r, calls = line.split()
            kinds.append((k, int(r), int(calls)))

    total = lost_total = 0
    pdd_by_minute = {}
    rows = []
    bad_lines = []
    for k, r, planned in kinds:
        st = last_stats(os.path.join(d, f"dialer-{k}.csv"))
        created = int(st.get("TotalCallCreated", 0) or 0)
        failed = int(st.get("FailedCall(C)", 0) or 0)
        answered = finals_ok = finals_bad = 0
        logp = os.path.join(d, f"dialer-{k}_logs.log")
        if not os.path.exists(logp):
            logp = os.path.join(d, f"dialer-{k}.log")
        if os.path.exists(logp):
            with open(logp, errors="replace") as f:
                for line in f:
                    p = line.strip().split(";")
                    if p[0] == "ANSWERED" and len(p) >= 3:
                        answered += 1
                        try:
                            t0, pdd = float(p[1]), float(p[2])
                        except ValueError:
                            continue
                        minute = max(0, int((t0 - int(a.start)) // 60))
                        pdd_by_minute.setdefault(minute, []).append(pdd)
                    elif p[0] == "FINAL":
                        code = p[2] if k != "cancel" and len(p) >= 3 else p[1]
                        if EXPECTED_FINAL.get(k) == code:
                            finals_ok += 1
                        else:
                            finals_bad += 1
                            bad_lines.append(f"{k}: {line.strip()}")
        if k == "cancel":
            lost = failed + finals_bad + answered
        elif k in EXPECTED_FINAL:
            # A busy trunk too slow to answer in time fails over: the backup's answer is no loss.
            lost = failed + finals_bad
        else:
            lost = failed + finals_bad
        # Calls SIPp never got to create count as lost too (the dialer fell behind or died).
        lost += max(0, planned - created)
        total += created
        lost_total += lost
        rows.append((k, r, planned, created, answered, finals_ok, finals_bad, failed, lost))

    print(f"window: {a.stop - a.start:.0f} s (traffic and drain); load average at the end: {a.load}")
    print("kind      cps  planned  created  answered  expected-final  other-final  sipp-failed  lost")
    for k, r, planned, created, answered, fok, fbad, failed, lost in rows:
        print(f"{k:<8} {r:>4} {planned:>8} {created:>8} {answered:>9} {fok:>15} {fbad:>12} "
              f"{failed:>12} {lost:>5}")
    print(f"calls: {total}")
    print(f"lost calls: {lost_total}")
    for line in bad_lines[:20]:
        print(f"  lost: {line}")

    samples = []
    with open(os.path.join(d, "samples.tsv")) as f:
        next(f)
        for line in f:
            p = line.split()
            if len(p) >= 4:
                samples.append((float(p[0]), int(p[1]), int(p[2]), int(p[3])))
    if samples:
        duration = a.stop - a.start
        warm = a.warmup_s if a.warmup_s is not None else min(60.0, duration / 3)
        after = [s for s in samples if s[0] >= a.start + warm]
        first, last = samples[0], samples[-1]
        rss_slope = slope_per_min([(s[0], s[1] / 1024.0) for s in after])
        fd_slope = slope_per_min([(s[0], s[2]) for s in after])
        peak_rss = max(s[1] for s in samples)
        print(f"samples: {len(samples)} (1 s apart); warm-up {warm:.0f} s")
        print(f"RSS: start {first[1] / 1024:.1f} MB, after warm-up "
              f"{(after[0][1] if after else first[1]) / 1024:.1f} MB, end {last[1] / 1024:.1f} MB, "
              f"peak {peak_rss / 1024:.1f} MB; slope after warm-up {rss_slope:+.3f} MB/min")
        print(f"fds: idle {a.idle_fds}, start {first[2]}, peak {max(s[2] for s in samples)}, "
              f"end {a.end_fds}; slope after warm-up {fd_slope:+.2f}/min")
        print(f"threads: start {first[3]}, end {last[3]}")
    print(f"calls up at the edge at the end: {a.active_calls}")

    print("PDD of answered calls per minute (ms): minute  calls  p50  p90  p99  max")
    for m in sorted(pdd_by_minute):
        v = pdd_by_minute[m]
        print(f"  {m:>3} {len(v):>7} {percentile(v, 50):>6.1f} {percentile(v, 90):>6.1f} "
              f"{percentile(v, 99):>7.1f} {max(v):>7.1f}")

    def count(path, word):
        if not os.path.exists(path):
            return 0
        with open(path) as f:
            return sum(1 for line in f if line.startswith(word))

    rc = os.path.join(d, "routecall.out")
    if os.path.exists(rc) and count(rc, "ok") + count(rc, "fail") > 0:
        print(f"routecall (trunkroutectl): {count(rc, 'ok')} ok, {count(rc, 'fail')} failed")
    elif os.path.exists(rc):
        with open(rc) as f:
            lines = [l.strip() for l in f if l.startswith("window ") or "exit" in l]
        print("routecall (loadgen): " + " | ".join(lines[-3:]))
    cw = os.path.join(d, "config-writes.out")
    print(f"config writes: {count(cw, 'ok')} ok, {count(cw, 'fail')} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
