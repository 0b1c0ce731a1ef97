#!/usr/bin/env bash
# One command for the trunkroute vs Kamailio comparison (docs/benchmarks.md): ../shared/bench's
#   S1  bursts at 800, 1,600 and 3,200 calls/s (3,000 calls each, every step run),
#   S4  sustained S4_SECS s at each of 800, 2,025, 2,700 and 4,000 calls/s (one try each: the
#       rate asked for is the rate measured, past capacity too),
#   S3  a primary that dies (S3_MODE=kill) and one that goes silent (S3_MODE=stop),
# for both devices, REPEATS times, alternating them in one session (kamailio, trunkroute, then
# trunkroute, kamailio, …; with more devices the order rotates by one each repetition) so that
# machine noise falls on all alike. Writes every run under OUT and the table docs/benchmarks.md
# shows to OUT/table.md.
#
#   TRUNKROUTE_BUILD=build REPEATS=3 bench/sip/compare.sh
#
# Knobs: REPEATS (3), DUTS ("kamailio trunkroute"; trunkroute-shed is trunkroute with
# bench_config_shed.json, edge.shed_on_overload on; trunkroute-w2 is trunkroute with 2 SIP
# workers, --sip-workers 2; trunkroute-shed-w2 both), S1_RATES, S4_RATES, S4_SECS (15),
# SCENARIOS ("S1 S4 S3"), KAM_CHILDREN (4),
# KAM_SHM_MB (2048: at 3,600 calls/s 512 ran out, "cannot allocate shmem"; only the pages it
# touches count in its PSS), BENCH (../shared/bench),
# OUT (/tmp/trunkroute-compare-<time>). Needs: kamailio, sip-tester, python3.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
BENCH=${BENCH:-$repo/../shared/bench}
[ -x "$BENCH/run.sh" ] || { echo "no benchmark harness at $BENCH (set BENCH)" >&2; exit 2; }
DUTS=${DUTS:-"kamailio trunkroute"}
case " $DUTS " in
  *" kamailio "*) command -v kamailio >/dev/null ||
                    { echo "kamailio is not installed (apt-get install kamailio)" >&2; exit 2; } ;;
esac
export TRUNKROUTE_BUILD=${TRUNKROUTE_BUILD:-$repo/build}
[ -x "$TRUNKROUTE_BUILD/bin/trunkrouted" ] || { echo "no $TRUNKROUTE_BUILD/bin/trunkrouted" >&2; exit 2; }
REPEATS=${REPEATS:-3}
S1_RATES=${S1_RATES:-"800 1600 3200"}
S4_RATES=${S4_RATES:-"800 2025 2700 4000"}
SCENARIOS=${SCENARIOS:-"S1 S4 S3"}
export KAM_CHILDREN=${KAM_CHILDREN:-4} KAM_SHM_MB=${KAM_SHM_MB:-2048}
OUT=${OUT:-/tmp/trunkroute-compare-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
echo "compare: $(date -Is) repeats=$REPEATS host=$(hostname) nproc=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)" \
    | tee "$OUT/session.txt"

run() {  # run DUT REP SCENARIO [ENV...]
  local dut=$1 rep=$2 sc=$3 tag=$4
  shift 4
  local driver=kamailio
  case $dut in
    trunkroute) driver=$here/trunkroute_dut.sh ;;
    trunkroute-shed) driver=$here/trunkroute_dut.sh
                     set -- "$@" TRUNKROUTE_DUT_CONFIG="$here/bench_config_shed.json" ;;
    # N SIP workers (docs/sip-edge.md "Workers"); their own ports from 5090 (the dialer has 5070).
    trunkroute-w[0-9]*) driver=$here/trunkroute_dut.sh
                     set -- "$@" TRUNKROUTE_DUT_FLAGS="--sip-workers ${dut#trunkroute-w} --sip-worker-port-base 5090 ${TRUNKROUTE_DUT_FLAGS:-}" ;;
    trunkroute-shed-w[0-9]*) driver=$here/trunkroute_dut.sh
                     set -- "$@" TRUNKROUTE_DUT_CONFIG="$here/bench_config_shed.json" \
                       TRUNKROUTE_DUT_FLAGS="--sip-workers ${dut#trunkroute-shed-w} --sip-worker-port-base 5090 ${TRUNKROUTE_DUT_FLAGS:-}" ;;
    kamailio) ;;
    *) echo "unknown device $dut (DUTS: kamailio trunkroute trunkroute-shed trunkroute-wN trunkroute-shed-wN)" >&2; exit 2 ;;
  esac
  local dir="$OUT/$dut/rep$rep/$tag"
  mkdir -p "$dir"
  echo "$(date +%T) $dut rep$rep $tag (load $(cut -d' ' -f1 /proc/loadavg))" | tee -a "$OUT/session.txt"
  env "$@" DUT="$driver" REPEATS=1 BENCH_OUT="$dir" "$BENCH/run.sh" "$sc" >"$dir/run.log" 2>&1
  cat "$dir"/*/lines.txt >>"$OUT/$dut.lines" 2>/dev/null
  sed "s/^/$dut rep=$rep tag=$tag | /" "$dir"/*/lines.txt >>"$OUT/all.lines" 2>/dev/null
}

read -r -a duts <<<"$DUTS"
for rep in $(seq "$REPEATS"); do
  # Rotate the order by one each repetition (two devices: A B, then B A).
  order=()
  for i in "${!duts[@]}"; do order+=("${duts[$(( (i + rep - 1) % ${#duts[@]} ))]}"); done
  for dut in "${order[@]}"; do
    for sc in $SCENARIOS; do
      case $sc in
        # One run per burst rate: the harness stops S1 at its first failing step, and every
        # rate is wanted (each on a freshly started device).
        S1) for rate in $S1_RATES; do
              run "$dut" "$rep" S1 "S1-$rate" S1_RATES="$rate" S1_REFINE=0
            done ;;
        S4) for rate in $S4_RATES; do
              run "$dut" "$rep" S4 "S4-$rate" S4_RATE="$rate" S4_TRIES=1 S4_SECS="${S4_SECS:-15}"
            done ;;
        S3) run "$dut" "$rep" S3 S3-kill S3_MODE=kill
            run "$dut" "$rep" S3 S3-stop S3_MODE=stop ;;
      esac
    done
  done
done

python3 "$here/compare_table.py" "$OUT/all.lines" | tee "$OUT/table.md"
echo "runs in $OUT"
