#!/usr/bin/env bash
# The shipped alert rules pass `promtool check rules` and their unit tests
# (`promtool test rules deploy/prometheus/trunkroute-alerts.test.yml`), and those unit tests can
# fail: a copy of the rules with a changed `for:` must make them fail. Every query of the Grafana
# dashboard must parse as PromQL (promtool checks them as recording rules).
# Usage: promtool_rules.sh REPO_ROOT   (PROMTOOL: path to promtool, set by ctest)
# Fails (never skips) when promtool is missing: scripts/get-promtool.sh installs it.
set -euo pipefail

root="$1"
promtool="${PROMTOOL:-}"
if [[ -z "$promtool" || ! -x "$promtool" ]]; then
  echo "FAIL: promtool not found at '${promtool}' (run scripts/get-promtool.sh '${promtool}')" >&2
  exit 1
fi
rules_dir="$root/deploy/prometheus"
status=0

if ! "$promtool" check rules "$rules_dir/trunkroute-alerts.yml"; then
  echo "FAIL: promtool check rules rejected deploy/prometheus/trunkroute-alerts.yml" >&2
  status=1
fi
# promtool resolves rule_files relative to the test file.
if ! "$promtool" test rules "$rules_dir/trunkroute-alerts.test.yml"; then
  echo "FAIL: promtool test rules: the alert unit tests failed" >&2
  status=1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The Grafana dashboard's queries, written as recording rules so that promtool parses each one.
python="${PYTHON:-python3}"
if ! "$python" "$(dirname "$0")/check_deploy_files.py" "$root" --dashboard-rules \
    "$tmp/dashboard-queries.yml"; then
  echo "FAIL: could not extract the dashboard's queries" >&2
  status=1
elif ! "$promtool" check rules "$tmp/dashboard-queries.yml"; then
  echo "FAIL: a query of deploy/grafana/trunkroute-dashboard.json is not valid PromQL" >&2
  status=1
fi

# Control: the unit tests must notice a changed rule, or they prove nothing.
cp "$rules_dir/trunkroute-alerts.yml" "$rules_dir/trunkroute-alerts.test.yml" "$tmp/"
sed -i 's/^        for: 1m$/        for: 5m/' "$tmp/trunkroute-alerts.yml"
if cmp -s "$tmp/trunkroute-alerts.yml" "$rules_dir/trunkroute-alerts.yml"; then
  echo "FAIL: control mutation did not change the rules (no 'for: 1m' left?)" >&2
  status=1
elif "$promtool" test rules "$tmp/trunkroute-alerts.test.yml" >/dev/null 2>&1; then
  echo "FAIL: the alert unit tests passed on rules with 'for: 5m'; they cannot fail" >&2
  status=1
fi

[[ $status -eq 0 ]] && echo "promtool: alert rules checked and unit-tested, dashboard queries parse: OK"
exit $status
