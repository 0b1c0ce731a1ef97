#!/usr/bin/env python3
"""The comparison table of bench/sip/compare.sh: median (min-max, n) per device and measure.

Input: compare.sh's all.lines, each line "<dut> rep=N tag=TAG | <one line of the harness>".
"""
import collections
import re
import statistics
import sys

# Column order; a device compare.sh did not run (DUTS) is left out.
KNOWN_DUTS = ("trunkroute", "trunkroute-shed", "kamailio")


def kv(text):
    """key=value pairs of a harness line; numbers with units (12.3%, 4.5MB, 800cps) as floats."""
    out = {}
    for k, v in re.findall(r"([A-Za-z_0-9]+)=([^\s]+)", text):
        m = re.match(r"^(-?[0-9.]+)", v)
        if m:
            try:
                out[k] = float(m.group(1))
            except ValueError:
                pass
    m = re.search(r"ok=\d+ \(([0-9.]+)%\)", text)
    if m:
        out["ok_pct"] = float(m.group(1))
    # "p50"/"p99" appear twice (PDD_ms, then sipp_rtd1_ms): the PDD ones are wanted.
    m = re.search(r"PDD_ms p50=([0-9.]+) p95=([0-9.]+) p99=([0-9.]+)", text)
    if m:
        out["p50"], out["p99"] = float(m.group(1)), float(m.group(3))
    return out


def cell(vals, nd=1):
    v = [x for x in vals if x is not None]
    if not v:
        return "-"
    m = statistics.median(v)
    if len(v) == 1:
        return f"{m:.{nd}f} (n=1)"
    return f"{m:.{nd}f} ({min(v):.{nd}f}–{max(v):.{nd}f}, n={len(v)})"


def main(path):
    data = collections.defaultdict(lambda: collections.defaultdict(list))
    for line in open(path, encoding="utf-8"):
        head, _, body = line.partition(" | ")
        m = re.match(r"(\S+) rep=(\d+) tag=(\S+)", head)
        if not m:
            continue
        dut, tag = m.group(1), m.group(3)
        if "RESULT" in body or "ERROR" in body or "SKIPPED" in body:
            continue
        f = kv(body)
        if tag.startswith("S1-") or tag.startswith("S4-"):
            if "PDD_ms" not in body:
                continue
            for k in ("ok_pct", "p99", "p50", "DUT_cpu", "DUT_pss_sum", "retrans"):
                data[(tag, k)][dut].append(f.get(k))
            if tag.startswith("S4-") and f.get("ok_pct") is not None:
                # Goodput: calls completed per second of the rate offered.
                offered = float(tag.partition("-")[2])
                data[(tag, "goodput")][dut].append(offered * f["ok_pct"] / 100.0)
        elif tag.startswith("S3-"):
            if "calls_total" not in body:
                continue
            failed = (f.get("inv_failed") or 0) + (f.get("bye_failed") or 0)
            data[(tag, "failed")][dut].append(failed)
            data[(tag, "calls")][dut].append(f.get("calls_total"))
            data[(tag, "delayed")][dut].append(f.get("delayed_calls"))
            data[(tag, "normal_again")][dut].append(f.get("normal_again_after_kill_s"))

    rows = []
    seen = {dut for per_dut in data.values() for dut in per_dut}
    duts = [d for d in KNOWN_DUTS if d in seen] + sorted(seen - set(KNOWN_DUTS))

    def row(label, key, nd=1):
        if key in data:
            rows.append((label, [cell(data[key][d], nd) for d in duts]))

    tags = sorted({k[0] for k in data}, key=lambda t: (t.split("-")[0], float(re.sub(r"\D", "", t) or 0)))
    for tag in tags:
        sc, _, arg = tag.partition("-")
        if sc == "S1":
            row(f"S1 burst {arg} cps: completed %", (tag, "ok_pct"), 2)
            row(f"S1 burst {arg} cps: PDD p50 / ms", (tag, "p50"), 2)
            row(f"S1 burst {arg} cps: PDD p99 / ms", (tag, "p99"), 2)
            row(f"S1 burst {arg} cps: PSS / MB", (tag, "DUT_pss_sum"))
        elif sc == "S4":
            row(f"S4 sustained {arg} cps: completed %", (tag, "ok_pct"), 2)
            row(f"S4 sustained {arg} cps: completed calls/s", (tag, "goodput"), 0)
            row(f"S4 sustained {arg} cps: CPU % of a core", (tag, "DUT_cpu"))
            row(f"S4 sustained {arg} cps: PSS / MB", (tag, "DUT_pss_sum"))
            row(f"S4 sustained {arg} cps: PDD p99 / ms", (tag, "p99"), 2)
            row(f"S4 sustained {arg} cps: retransmissions", (tag, "retrans"), 0)
        elif sc == "S3":
            row(f"S3 primary {arg}: failed calls", (tag, "failed"), 0)
            row(f"S3 primary {arg}: delayed calls", (tag, "delayed"), 0)
            row(f"S3 primary {arg}: normal again after (s)", (tag, "normal_again"), 2)
    print("| measure | " + " | ".join(duts) + " |")
    print("|---|" + "---|" * len(duts))
    for label, cells in rows:
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
