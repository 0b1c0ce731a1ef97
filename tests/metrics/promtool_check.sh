#!/usr/bin/env bash
# `promtool check metrics` on a live scrape of every trunkroute_ family.
# Usage: promtool_check.sh LIVE_SCRAPE_BINARY   (PROMTOOL: path to promtool, set by ctest)
# Fails (never skips) when promtool is missing: scripts/get-promtool.sh installs it.
set -euo pipefail

scrape_bin="$1"
promtool="${PROMTOOL:-}"
if [[ -z "$promtool" || ! -x "$promtool" ]]; then
  echo "FAIL: promtool not found at '${promtool}' (run scripts/get-promtool.sh '${promtool}')" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

"$scrape_bin" >"$tmp/scrape.txt"

families=(
  trunkroute_route_decisions_total trunkroute_route_decision_duration_seconds
  trunkroute_call_attempts_total trunkroute_failovers_total trunkroute_trunk_health_state
  trunkroute_trunk_health_transitions_total trunkroute_trunk_ejections_total
  trunkroute_panic_decisions_total trunkroute_probes_total trunkroute_probe_rtt_seconds
  trunkroute_post_dial_delay_seconds trunkroute_active_calls trunkroute_config_version
  trunkroute_config_last_apply_timestamp_seconds trunkroute_grpc_requests_total
  trunkroute_http_requests_total trunkroute_auth_failures_total trunkroute_edge_rejections_total
  trunkroute_edge_overloaded trunkroute_edge_admitted_ratio trunkroute_edge_loop_lag_seconds
  trunkroute_edge_udp_queue_ratio
  trunkroute_build_info
)
status=0
for family in "${families[@]}"; do
  # Declared, and with at least one sample (so promtool checks real series, not just headers).
  if ! grep -q "^# TYPE ${family} " "$tmp/scrape.txt"; then
    echo "FAIL: family ${family} is not in the scrape" >&2
    status=1
  elif ! grep -Eq "^${family}(_bucket|_sum|_count)?(\{| )" "$tmp/scrape.txt"; then
    echo "FAIL: family ${family} has no samples in the populated scrape" >&2
    status=1
  fi
done

# promtool exits non-zero on parse errors and on lint problems (and prints them).
if ! report="$("$promtool" check metrics <"$tmp/scrape.txt" 2>&1)" || [[ -n "$report" ]]; then
  echo "FAIL: promtool check metrics rejected the scrape:" >&2
  echo "$report" >&2
  status=1
fi

# Control: the same promtool must reject what it should, or this check proves nothing.
printf '# HELP bad_counter x\n# TYPE bad_counter counter\nbad_counter 1\n' >"$tmp/bad.txt"
if "$promtool" check metrics <"$tmp/bad.txt" >/dev/null 2>&1; then
  echo "FAIL: promtool accepted a counter without _total; the check cannot fail" >&2
  status=1
fi

if [[ $status -eq 0 ]]; then
  echo "promtool check metrics: OK ($(grep -c '^# TYPE ' "$tmp/scrape.txt") families," \
    "$(grep -vc '^#' "$tmp/scrape.txt") samples)"
fi
exit $status
