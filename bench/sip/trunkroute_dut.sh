# shellcheck shell=bash
# DUT driver for trunkroute (contract: ../shared/bench/dut/template.sh). Run from the benchmark
# harness:   DUT=/abs/path/bench/sip/trunkroute_dut.sh /path/to/bench/run.sh S1 S4 S2 S3
#
# Topology: dialer :5070 -> trunkroute :5060 (UDP) -> primary :5081, backup :5082 (UDP), one
# catch-all route, setup timeout 1000 ms (bench_config.json next to this file).
#
# Knobs (environment):
#   TRUNKROUTE_BUILD   build directory (default: <repo>/build)
#   TRUNKROUTE_DUT_MODE  trunkrouted | harness (default trunkrouted). "trunkrouted" runs
#                      bin/trunkrouted with --bootstrap-config; if its SIP edge does not bind
#                      udp/5060 within 5 s (a build without the edge wired in), the driver falls
#                      back to tests/sip/sip_edge_harness (config + health + edge, nothing else).
#   TRUNKROUTE_LOG_LEVEL  default warn for throughput runs, info when DUT_CALLLOG=1
#   TRUNKROUTE_DUT_CONFIG  the bootstrap config (default bench_config.json next to this file;
#                      bench_config_shed.json: the same with edge.shed_on_overload)
#   TRUNKROUTE_DUT_FLAGS  extra trunkrouted flags, word-split (e.g. --sip-sofia-timer-d for
#                      Sofia's own 32 s Timer D, the before of docs/benchmarks.md's comparison)

DUT_NAME=trunkroute
TR_DRIVER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TR_REPO=$(cd "$TR_DRIVER_DIR/../.." && pwd)
TR_BUILD=${TRUNKROUTE_BUILD:-$TR_REPO/build}
TR_CONFIG=${TRUNKROUTE_DUT_CONFIG:-$TR_DRIVER_DIR/bench_config.json}

dut_start() {
    local out=$1 level
    mkdir -p "$out"
    level=${TRUNKROUTE_LOG_LEVEL:-warn}
    [ "${DUT_CALLLOG:-0}" = 1 ] && level=${TRUNKROUTE_LOG_LEVEL:-info}
    DUT_LOG="$out/trunkroute.log"
    local mode=${TRUNKROUTE_DUT_MODE:-trunkrouted}
    if [ "$mode" = trunkrouted ] && [ -x "$TR_BUILD/bin/trunkrouted" ]; then
        rm -rf "$out/data"
        # shellcheck disable=SC2086  # TRUNKROUTE_DUT_FLAGS is word-split on purpose
        "$TR_BUILD/bin/trunkrouted" --data-dir "$out/data" --grpc-listen 127.0.0.1:0 \
            --http-listen 127.0.0.1:19464 --sip-listen 127.0.0.1:5060 \
            --bootstrap-config "$TR_CONFIG" --log-level "$level" \
            ${TRUNKROUTE_DUT_FLAGS:-} \
            </dev/null >"$DUT_LOG" 2>&1 &
        DUT_PID=$!
        register_pid "$DUT_PID" dut-trunkroute
        echo "trunkrouted $level" > "$out/dut.cmdline"
        if wait_port_bound 5060 5; then return 0; fi
        log "trunkrouted did not bind udp/5060 (edge not wired in this build?); using sip_edge_harness"
        stop_pid "$DUT_PID"
    fi
    "$TR_BUILD/tests/sip/sip_edge_harness" --config "$TR_CONFIG" \
        --sip-listen 127.0.0.1:5060 --log-level "$level" </dev/null >"$DUT_LOG" 2>&1 &
    DUT_PID=$!
    register_pid "$DUT_PID" dut-trunkroute
    echo "sip_edge_harness $level" > "$out/dut.cmdline"
}

dut_stop() { stop_pid "$DUT_PID"; DUT_PID=; }
dut_snapshot() { :; }
dut_mem() { echo "n/a"; }
dut_procs() {
    ps -o pid,ppid,etimes,time,rss,nlwp,args -p "$DUT_PID" 2>&1 | cut -c1-100 > "$1"
}

# "epoch_s down|up primary" from the health tracker's state-change lines, e.g.
#   2026-11-28T04:29:30.510Z warn "trunk health state change" trunk=primary from=up to=down ...
dut_events() {
    [ -f "$DUT_LOG" ] || return 0
    grep '"trunk health state change"' "$DUT_LOG" | python3 -c '
import sys, datetime
for line in sys.stdin:
    f = line.split()
    ts = datetime.datetime.strptime(f[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    kv = dict(p.split("=", 1) for p in f if "=" in p and not p.startswith("\""))
    to = kv.get("to", "")
    ev = "down" if to == "down" else ("up" if to == "up" else None)
    trunk = kv.get("trunk", "?")
    if ev:
        print(f"{ts:.3f} {ev} {trunk}")
'
}
