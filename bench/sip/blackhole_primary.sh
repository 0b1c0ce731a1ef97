#!/usr/bin/env bash
# A silent ("black-hole") primary, which ../shared/bench S3 cannot produce (a SIGKILLed SIPp
# leaves a closed port that the kernel answers with ICMP). The primary SIPp is frozen with
# SIGSTOP: its socket stays bound, nothing is answered. Bounded: every process has a timeout
# and is stopped by PID.
#
#   TRUNKROUTE_BUILD=build bench/sip/blackhole_primary.sh [RATE] [CALLS] [FREEZE_AT_S]
#
# Prints every call whose PDD exceeded 20 ms, relative to the freeze, and the edge's failover
# and health lines. Ports 15060/15070/15081/15082 on 127.0.0.1.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${TRUNKROUTE_BUILD:-$here/../../build}
trunks=${BENCH_TRUNKS:-$here/../../../shared/bench/trunks}
rate=${1:-50}; calls=${2:-500}; freeze_at=${3:-4}
out=$(mktemp -d /tmp/trunkroute-blackhole-XXXXXX)
cat > "$out/config.json" <<JSON
{"trunks": [{"id": "primary", "host": "127.0.0.1", "port": 15081, "transport": "TRANSPORT_UDP"},
            {"id": "backup", "host": "127.0.0.1", "port": 15082, "transport": "TRANSPORT_UDP"}],
 "routes": [{"id": "all", "priority": 10, "pattern": "\\\\+?\\\\d+", "trunk_ids": ["primary", "backup"]}],
 "failover_policy": {"setup_timeout_ms": 1000}}
JSON
cd "$out" || exit 1
sipp -sf "$trunks/uas_ok.xml" -i 127.0.0.1 -p 15081 -nostdin -timeout 60s -timer_resol 1 </dev/null >primary.out 2>&1 & P=$!
sipp -sf "$trunks/uas_ok.xml" -i 127.0.0.1 -p 15082 -nostdin -timeout 60s -timer_resol 1 </dev/null >backup.out 2>&1 & B=$!
"$build/tests/sip/sip_edge_harness" --config config.json --sip-listen 127.0.0.1:15060 --log-level info </dev/null >edge.log 2>&1 & E=$!
sleep 2
sipp 127.0.0.1:15060 -sf "$trunks/uac_dialer.xml" -i 127.0.0.1 -p 15070 -nostdin -m "$calls" -r "$rate" -rp 1000 -d 200 \
    -timeout 60s -default_behaviors all,-bye -timer_resol 1 -trace_logs -log_file calls.log </dev/null >dialer.out 2>&1 & D=$!
sleep "$freeze_at"
kill -STOP "$P"; frozen=$(date +%s.%N)
wait "$D"
kill "$E"; wait "$E"
kill -CONT "$P"; kill "$P" "$B"; wait "$P" "$B" 2>/dev/null
python3 - "$frozen" calls.log <<'PY'
import sys
frozen = float(sys.argv[1]); n = ok = 0
for line in open(sys.argv[2]):
    p = line.strip().split(';')
    if p[0] != 'INV':
        continue
    n += 1; ok += p[2] == 'OK'
    t0 = float(p[3]) + float(p[4]) / 1e6
    pdd = (float(p[5] or 0) + float(p[6] or 0) / 1e6 - t0) * 1000
    if pdd > 20 or p[2] != 'OK':
        print(f"call sent at freeze{t0 - frozen:+.3f}s pdd={pdd:.1f}ms {p[2]}")
print(f"calls={n} ok={ok}")
PY
grep -E '"trunk health state change"|failover' edge.log | head -20
echo "files in $out"
