#!/usr/bin/env bash
# Soak: the real trunkrouted under a steady mix of calls, config writes and RouteCall load, with
# its memory and file descriptors sampled every second (docs/benchmarks.md "Soak").
#
#   scripts/soak.sh [--rate CPS] [--duration S] [--slot N] [--out DIR] [--build DIR]
#                   [--loadgen] [--check] [--keep]
#
#   --rate      calls per second over all dialers (default 640: 80 % of the 800 cps that S4
#               sustains at 100 % in every repetition in docs/benchmarks.md, on 2 cores
#               shared with the SIPp dialer and trunks; 2,025 cps collapses there)
#   --duration  seconds of traffic (default 600)
#   --slot      port slot as tests/sip/edge_test_fixture.h counts them: SIP ports from
#               ${TRUNKROUTE_SIP_TEST_PORT_BASE:-27000} + slot*10 (two slots: 0-15 and 18 SIP, 16-17 gRPC and /metrics over TCP), SIPp
#               media ports like the fixture's (default 100)
#   --loadgen   RouteCall load from bench/grpc/routecall_loadgen (1 channel, 1 call in flight,
#               closed loop: fast) instead of trunkroutectl route call 5 times a second
#   --check     exit 1 unless no call was lost, the edge ended with no call up and its open file
#               descriptors came back to the idle count (± 4): the ctest variant (soak label)
#   --keep      keep the output directory even when the check passes
#
# Topology, all UDP on 127.0.0.1: one dialer (SIPp) per kind of call, each dialling its own
# route; trunks are SIPp UASs:
#   answer   +1555100…  ok_a → ok_b        answered, the caller hangs up (BYE from leg A)
#   busy     +1555200…  busy → ok_b        486 relayed (a callee final: never failed over)
#   r503     +1555300…  t503 → ok_a        503 without Retry-After: failover, then ejection
#   r503ra   +1555400…  t503ra → ok_b      503 Retry-After: 5: DOWN 5 s each time
#   silent   +1555500…  flaky → ok_a       flaky is frozen (SIGSTOP) 15 s of every 45 s
#   cancel   +1555600…  ringer             the caller CANCELs while it rings (487)
#   hangup   +1555700…  hangup → hangup2   answered, the trunk hangs up (BYE from leg B)
# Every 3 s a config write over gRPC (trunkroutectl: the setup timeout 1000/1100 ms, or a
# dummy route added/removed). A call is lost when it did not end as its kind must (answered
# and hung up, 486, 487), e.g. a 503 to the caller or a SIPp timeout: with a backup on every
# failing route the target is 0.
#
# Output in DIR: samples.tsv (t, RSS kB, fds, threads), report.txt (calls, lost, RSS and fds
# start/end and slope after warm-up, PDD percentiles per minute), the SIPp logs and stats and
# trunkrouted.log. Every process is started here, bounded by a timeout, and stopped by PID.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
rate=640
duration=600
slot=100
out=""
build="$repo/build"
use_loadgen=0
check=0
keep=0
while (($#)); do
  case "$1" in
    --rate) rate=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --slot) slot=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --loadgen) use_loadgen=1; shift ;;
    --check) check=1; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,34p' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ $rate =~ ^[0-9]+$ && $rate -ge 10 ]] || { echo "soak.sh: --rate must be an integer ≥ 10" >&2; exit 2; }
[[ $duration =~ ^[0-9]+$ && $duration -ge 20 ]] || { echo "soak.sh: --duration must be ≥ 20 s" >&2; exit 2; }
[[ $slot =~ ^[0-9]+$ ]] || { echo "soak.sh: --slot must be a number" >&2; exit 2; }

range=${TRUNKROUTE_SIP_TEST_PORT_BASE:-27000}
base=$((range + slot * 10))
media_base=$((range + 13000 + slot * 40))
if ((base + 19 >= 65000 || media_base + 16 * 4 >= 65000)); then
  echo "soak.sh: ports from $base (media $media_base) do not fit below 65000" >&2; exit 2
fi
trunkrouted=$build/bin/trunkrouted
ctl=$build/cli/trunkroutectl
loadgen=$build/bench/grpc/routecall_loadgen
for b in "$trunkrouted" "$ctl"; do [[ -x $b ]] || { echo "soak.sh: $b not built" >&2; exit 2; }; done
if ((use_loadgen)) && [[ ! -x $loadgen ]]; then
  echo "soak.sh: $loadgen not built (configure with -DTRUNKROUTE_BUILD_BENCHMARKS=ON)" >&2; exit 2
fi
command -v sipp >/dev/null || { echo "soak.sh: sipp (sip-tester) not installed" >&2; exit 2; }
[[ -n $out ]] || out=$(mktemp -d /tmp/trunkroute-soak-XXXXXX)
mkdir -p "$out"
cd "$out"
sc=$repo/tests/soak/scenarios
tsc=$repo/tests/sip/scenarios

pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -KILL "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
log() { printf '%s soak: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

edge=$base
declare -A tport=([ok_a]=$((base + 1)) [ok_b]=$((base + 2)) [busy]=$((base + 3)) [t503]=$((base + 4))
                  [t503ra]=$((base + 5)) [flaky]=$((base + 6)) [ringer]=$((base + 7)) [hangup]=$((base + 8))
                  [hangup2]=$((base + 18)))
declare -A tscen=([ok_a]=$tsc/uas_answer.xml [ok_b]=$tsc/uas_answer.xml [busy]=$tsc/uas_486.xml
                  [t503]=$sc/soak_uas_503.xml [t503ra]=$sc/soak_uas_503_ra5.xml
                  [flaky]=$tsc/uas_answer.xml [ringer]=$sc/soak_uas_ring_cancel.xml
                  [hangup]=$tsc/uas_hangup.xml [hangup2]=$tsc/uas_hangup.xml)
trunk_order=(ok_a ok_b busy t503 t503ra flaky ringer hangup hangup2)

# kind: prefix, route trunks, scenario, share of the rate (per cent), hold ms
kinds=(answer busy r503 r503ra silent cancel hangup)
declare -A kprefix=([answer]=1555100 [busy]=1555200 [r503]=1555300 [r503ra]=1555400
                    [silent]=1555500 [cancel]=1555600 [hangup]=1555700)
declare -A ktrunks=([answer]='"ok_a","ok_b"' [busy]='"busy","ok_b"' [r503]='"t503","ok_a"'
                    [r503ra]='"t503ra","ok_b"' [silent]='"flaky","ok_a"' [cancel]='"ringer"'
                    [hangup]='"hangup","hangup2"')
declare -A kscen=([answer]=$sc/soak_uac_call.xml [busy]=$sc/soak_uac_call.xml
                  [r503]=$sc/soak_uac_call.xml [r503ra]=$sc/soak_uac_call.xml
                  [silent]=$sc/soak_uac_call.xml [cancel]=$tsc/uac_cancel.xml
                  [hangup]=$sc/soak_uac_wait_bye.xml)
declare -A kshare=([answer]=40 [busy]=10 [r503]=10 [r503ra]=10 [silent]=10 [cancel]=10 [hangup]=10)

{
  printf '{"trunks": ['
  sep=""
  for t in "${trunk_order[@]}"; do
    printf '%s\n  {"id": "%s", "host": "127.0.0.1", "port": %d, "transport": "TRANSPORT_UDP"}' \
      "$sep" "$t" "${tport[$t]}"
    sep=","
  done
  printf '],\n "routes": ['
  sep=""; prio=10
  for k in "${kinds[@]}"; do
    printf '%s\n  {"id": "%s", "priority": %d, "pattern": "\\\\+%s\\\\d+", "trunk_ids": [%s]}' \
      "$sep" "$k" "$prio" "${kprefix[$k]}" "${ktrunks[$k]}"
    sep=","; prio=$((prio + 10))
  done
  printf '],\n "failover_policy": {"setup_timeout_ms": 1000}}\n'
} >config.json

log "output in $out; rate $rate cps for $duration s; SIP ports $base-$((base + 15)) and $((base + 18)), gRPC/HTTP tcp $((base + 16))/$((base + 17))"
for t in "${trunk_order[@]}"; do
  sipp -sf "${tscen[$t]}" -i 127.0.0.1 -p "${tport[$t]}" -mp "$((media_base + ${#pids[@]} * 4))" \
    -nostdin -timeout "$((duration + 120))s" -timer_resol 1 -trace_logs -log_file "trunk-$t.log" \
    -trace_err -error_file "trunk-$t.err" -watchdog_major_maxtriggers 1000000 \
    -watchdog_minor_maxtriggers 1000000 \
    </dev/null >"trunk-$t.out" 2>&1 &
  pids+=($!)
done
# Every trunk listening before trunkrouted starts (its first probes go out at once).
udp_bound() { awk -v p="$(printf ':%04X' "$1")" 'index($2, p) == length($2) - 4 {f = 1} END {exit !f}' /proc/net/udp; }
for t in "${trunk_order[@]}"; do
  for _ in $(seq 100); do udp_bound "${tport[$t]}" && break; sleep 0.05; done
  udp_bound "${tport[$t]}" || { log "trunk $t did not bind ${tport[$t]}:"; tail -5 "trunk-$t.out" >&2; exit 1; }
done
declare -A tpid
i=0
for t in "${trunk_order[@]}"; do tpid[$t]=${pids[$i]}; i=$((i + 1)); done

grpc=127.0.0.1:$((base + 16))
http=127.0.0.1:$((base + 17))
"$trunkrouted" --data-dir "$out/data" --grpc-listen "$grpc" --http-listen "$http" \
  --sip-listen "127.0.0.1:$edge" --bootstrap-config "$out/config.json" --log-level warn \
  </dev/null >trunkrouted.log 2>&1 &
dpid=$!
pids+=("$dpid")
serving=0
for _ in $(seq 100); do
  if "$ctl" --server "$grpc" --timeout 1 ping >/dev/null 2>&1; then serving=1; break; fi
  kill -0 "$dpid" 2>/dev/null || break
  sleep 0.1
done
((serving)) || { log "trunkrouted did not start:"; tail -20 trunkrouted.log >&2; exit 1; }

sample() {  # t rss_kb fds threads
  local rss thr fds
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$dpid/status" 2>/dev/null) || return 1
  thr=$(awk '/^Threads:/ {print $2}' "/proc/$dpid/status" 2>/dev/null) || return 1
  fds=$(find "/proc/$dpid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
  printf '%s\t%s\t%s\t%s\n' "$(date +%s.%N)" "$rss" "$fds" "$thr"
}
active_calls() {  # the edge's calls in progress, from /metrics
  curl -fsS "http://$http/metrics" 2>/dev/null |
    awk '/^trunkroute_active_calls\{/ {s += $2} END {print s + 0}'
}
# The idle descriptor count: probes have run (every trunk probed once), no call yet.
sleep 2
idle_fds=$(sample | cut -f3)
log "trunkrouted $dpid serving grpc=$grpc http=$http; idle fds $idle_fds"

printf 't\trss_kb\tfds\tthreads\n' >samples.tsv
( while kill -0 "$dpid" 2>/dev/null; do sample >>samples.tsv || true; sleep 1; done ) &
sampler=$!
pids+=("$sampler")

start=$(date +%s.%N)
echo "$start" >start_time
di=0
declare -A dpids
for k in "${kinds[@]}"; do
  r=$(( (rate * ${kshare[$k]} + 50) / 100 ))
  ((r >= 1)) || r=1
  calls=$((r * duration))
  sipp "127.0.0.1:$edge" -sf "${kscen[$k]}" -i 127.0.0.1 -p "$((base + 9 + di))" \
    -mp "$((media_base + (9 + di) * 4))" -s "+${kprefix[$k]}0001" -r "$r" -m "$calls" -d 500 \
    -key max_forwards 70 -nostdin -timeout "$((duration + 60))s" -timer_resol 1 \
    -default_behaviors all,-bye -trace_logs -log_file "dialer-$k.log" \
    -trace_stat -stf "dialer-$k.csv" -fd 1 </dev/null >"dialer-$k.out" 2>&1 &
  dpids[$k]=$!
  pids+=($!)
  echo "$k $r $calls" >>dialers.txt
  di=$((di + 1))
done

# RouteCall load beside the calls.
if ((use_loadgen)); then
  ( left=$duration
    while ((left > 0)); do
      chunk=$((left > 300 ? 300 : left))
      "$loadgen" --target "$grpc" --method route --duration-s "$chunk" --warmup-s 0 \
        --channels 1 --depth 1 --number "+${kprefix[answer]}0001" >>routecall.out 2>&1 || echo "loadgen exit $?" >>routecall.out
      left=$((left - chunk))
    done ) &
else
  ( end=$(( $(date +%s) + duration ))
    while (( $(date +%s) < end )); do
      if "$ctl" --server "$grpc" --timeout 2 route call "+${kprefix[answer]}0001" >/dev/null 2>>routecall.err; then
        echo ok >>routecall.out
      else
        echo "fail $?" >>routecall.out
      fi
      sleep 0.2
    done ) &
fi
pids+=($!)

# Config writes every 3 s, and the silent trunk: frozen 15 s of every 45 s.
dummy='{"id": "soak-dummy", "priority": 1000, "pattern": "\\+999\\d+", "trunk_ids": ["ok_a"]}'
end=$(( $(date +%s) + duration ))
n=0
frozen=0
while (( $(date +%s) < end )); do
  sleep 3
  n=$((n + 1))
  case $((n % 4)) in
    0) args=(policy set --setup-timeout-ms 1000) ;;
    1) args=(routes apply -f -) ;;
    2) args=(policy set --setup-timeout-ms 1100) ;;
    3) args=(routes delete soak-dummy) ;;
  esac
  if echo "$dummy" | "$ctl" --server "$grpc" --timeout 5 "${args[@]}" >/dev/null 2>>config-writes.err; then
    echo "ok ${args[*]}" >>config-writes.out
  else
    echo "fail ${args[*]}" >>config-writes.out
  fi
  phase=$(( ( $(date +%s) - ${start%.*} ) % 45 ))
  if ((phase >= 15 && phase < 30 && !frozen)); then
    kill -STOP "${tpid[flaky]}" || log "flaky trunk gone"; frozen=1; echo "$(date +%s.%N) stop" >>flaky.txt
  elif ((!(phase >= 15 && phase < 30) && frozen)); then
    kill -CONT "${tpid[flaky]}" || log "flaky trunk gone"; frozen=0; echo "$(date +%s.%N) cont" >>flaky.txt
  fi
done
if ((frozen)); then kill -CONT "${tpid[flaky]}" || true; echo "$(date +%s.%N) cont" >>flaky.txt; fi

log "traffic window over; waiting for the dialers to finish their calls"
for k in "${kinds[@]}"; do
  for _ in $(seq 600); do kill -0 "${dpids[$k]}" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "${dpids[$k]}" 2>/dev/null; then
    log "dialer $k still running 60 s after the window: killed"; kill -KILL "${dpids[$k]}"
  fi
  wait "${dpids[$k]}" 2>/dev/null || true
done
stop=$(date +%s.%N)
# Every trunk must have lasted the whole run, or the mix was not what this reports.
dead_trunks=""
for t in "${trunk_order[@]}"; do kill -0 "${tpid[$t]}" 2>/dev/null || dead_trunks+=" $t"; done
[[ -z $dead_trunks ]] || log "trunks that ended early:$dead_trunks"
# Calls drain: the edge ends with nothing up and its descriptors back to the idle count.
active=-1
end_fds=-1
for _ in $(seq 150); do
  active=$(active_calls)
  end_fds=$(sample | cut -f3)
  if [[ $active == 0 ]] && ((end_fds <= idle_fds + 4 && end_fds >= idle_fds - 4)); then break; fi
  sleep 0.1
done
sample >>samples.tsv || true
kill "$sampler" 2>/dev/null || true

ok=1
python3 "$repo/tests/soak/soak_report.py" --dir "$out" --start "$start" --stop "$stop" \
  --idle-fds "$idle_fds" --end-fds "$end_fds" --active-calls "$active" \
  --load "$(cut -d' ' -f1-3 /proc/loadavg)" | tee report.txt || ok=0
if ((check)); then
  grep -q '^lost calls: 0$' report.txt || { log "FAIL: lost calls"; ok=0; }
  [[ $active == 0 ]] || { log "FAIL: $active calls still up at the edge"; ok=0; }
  ((end_fds <= idle_fds + 4 && end_fds >= idle_fds - 4)) ||
    { log "FAIL: fds $end_fds at the end, $idle_fds idle"; ok=0; }
  grep -q '^config writes: [0-9]* ok, 0 failed' report.txt || { log "FAIL: config writes failed"; ok=0; }
  kill -0 "$dpid" 2>/dev/null || { log "FAIL: trunkrouted died"; ok=0; }
  [[ -z $dead_trunks ]] || { log "FAIL: trunks ended early:$dead_trunks"; ok=0; }
fi
kill -TERM "$dpid" 2>/dev/null || true
for _ in $(seq 100); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
if ((ok)); then
  log "PASS"
  ((keep || !check)) || rm -rf "$out"
  exit 0
fi
log "FAIL (files in $out)"
exit 1
