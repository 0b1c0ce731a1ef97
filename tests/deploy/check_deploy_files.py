#!/usr/bin/env python3
"""Checks the shipped Grafana dashboard and Prometheus alert rules against the metric list.

    check_deploy_files.py REPO_ROOT              check the real files (exit 1 on any problem)
    check_deploy_files.py REPO_ROOT --self-test  prove each check catches what it should
    check_deploy_files.py REPO_ROOT --dashboard-rules OUT.yml
                                                 write the dashboard's queries as recording
                                                 rules, so that promtool parses them

Every PromQL expression (dashboard targets, template-variable queries, alert rules) may name
only metrics declared in metrics/trunkroute_metrics.cc (histograms as _bucket/_sum/_count;
`up` for scrape health) and, in selectors and by/on/without clauses, only their declared
labels plus job, instance and le. The dashboard must parse, use schemaVersion >= 36, take its
data source from ${DS_PROMETHEUS}, and offer trunk and route variables; every alert needs a
severity, summary, description and a runbook_url whose anchor is a heading of docs/runbook.md.
Standard library only: the CI machine has python3 but not necessarily PyYAML.
"""

import copy
import json
import os
import re
import sys
import tempfile

PROMQL_WORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "inf", "nan", "atan2",
}
EXTRA_LABELS = {"job", "instance"}
DATASOURCE_UID = "${DS_PROMETHEUS}"


# ---- metric declarations ------------------------------------------------------------------

def load_metrics(metrics_cc):
    """{series name: set of labels} from the Add*() declarations in trunkroute_metrics.cc."""
    text = open(metrics_cc, encoding="utf-8").read()
    decl = re.compile(
        r'Add(Counter|Gauge|Histogram)\(\s*"([a-z_:][a-z0-9_:]*)"\s*,'  # kind, name
        r'\s*(?:"(?:[^"\\]|\\.)*"\s*)+,'                                 # help (maybe split)
        r'\s*\{([^}]*)\}', re.S)
    series = {}
    for kind, name, labels in decl.findall(text):
        label_set = set(re.findall(r'"([a-z_][a-z0-9_]*)"', labels))
        if kind == "Histogram":
            series[name + "_bucket"] = label_set | {"le"}
            series[name + "_sum"] = label_set
            series[name + "_count"] = label_set
        else:
            series[name] = label_set
    if len(series) < 10:
        raise SystemExit(f"{metrics_cc}: found only {len(series)} metric declarations; "
                         "the declaration pattern no longer matches the source")
    series["up"] = set()  # Prometheus' own scrape-health series
    return series


# ---- PromQL -------------------------------------------------------------------------------

def check_expr(expr, metrics, where):
    """Problems with the metric and label names one PromQL expression uses."""
    problems = []
    text = re.sub(r"\$\{[^}]*\}|\$[A-Za-z_]\w*", "1", expr)  # Grafana variables
    used = []

    def selector(match):
        name, matchers = match.group(1), match.group(2)
        labels = re.findall(r'([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"', matchers)
        used.append((name, labels))
        return " " + name + " "

    text = re.sub(r'([A-Za-z_:][\w:]*)?\s*\{((?:[^{}"]|"(?:[^"\\]|\\.)*")*)\}', selector, text)
    text = re.sub(r'"(?:[^"\\]|\\.)*"', " ", text)  # remaining strings (label_replace args...)
    clause_labels = []

    def clause(match):
        clause_labels.extend(re.findall(r"[A-Za-z_]\w*", match.group(2)))
        return " "

    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", clause, text)
    text = re.sub(r"\[[^\]]*\]", " ", text)                # ranges and subqueries
    text = re.sub(r"\boffset\s+-?\w+", " ", text)
    for token in re.finditer(r"[A-Za-z_:][\w:]*", text):
        name = token.group(0)
        after = text[token.end():].lstrip()
        if after.startswith("(") or name.lower() in PROMQL_WORDS:
            continue  # a function or aggregation, or a keyword
        if re.fullmatch(r"\d+[smhdwy]|0x[0-9a-fA-F]+", name):
            continue
        used.append((name, []))

    names = set()
    for name, labels in used:
        if not name:
            problems.append(f"{where}: selector without a metric name")
            continue
        if name not in metrics:
            problems.append(f"{where}: unknown metric '{name}'")
            continue
        names.add(name)
        for label in labels:
            if label != "__name__" and label not in metrics[name] | EXTRA_LABELS:
                problems.append(f"{where}: metric '{name}' has no label '{label}'")
    known = set(EXTRA_LABELS)
    for name in names:
        known |= metrics[name]
    for label in clause_labels:
        if label not in known:
            problems.append(f"{where}: label '{label}' in a by/on/without clause is on none of "
                            f"the metrics used ({', '.join(sorted(names)) or 'none'})")
    if not names:
        problems.append(f"{where}: expression names no metric")
    return problems


# ---- Grafana dashboard --------------------------------------------------------------------

def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


def check_dashboard(path, metrics):
    try:
        dash = json.load(open(path, encoding="utf-8"))
    except (OSError, ValueError) as e:
        return [f"{path}: not valid JSON: {e}"]
    problems = []
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 36:
        problems.append(f"{path}: schemaVersion {dash.get('schemaVersion')!r} is below 36")
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds_var = variables.get("DS_PROMETHEUS")
    if not ds_var or ds_var.get("type") != "datasource" or ds_var.get("query") != "prometheus":
        problems.append(f"{path}: no datasource variable DS_PROMETHEUS of type prometheus")
    for name in ("trunk", "route"):
        v = variables.get(name)
        query = v.get("query") if v else None
        if isinstance(query, dict):
            query = query.get("query")
        if not v or not isinstance(query, str) or not query.startswith("label_values("):
            problems.append(f"{path}: template variable '{name}' missing or not label_values()")
    for name, v in variables.items():
        if v.get("type") != "query":
            continue
        query = v.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        m = re.fullmatch(r"label_values\((.*),\s*([A-Za-z_]\w*)\)", query or "", re.S)
        if not m:
            problems.append(f"{path}: variable '{name}': expected label_values(metric, label)")
            continue
        where = f"{path}: variable '{name}'"
        problems += check_expr(m.group(1), metrics, where)
        metric = re.match(r"\s*([A-Za-z_:][\w:]*)", m.group(1))
        if metric and metric.group(1) in metrics and \
                m.group(2) not in metrics[metric.group(1)] | EXTRA_LABELS:
            problems.append(f"{where}: metric '{metric.group(1)}' has no label '{m.group(2)}'")
        if v.get("datasource", {}).get("uid") != DATASOURCE_UID:
            problems.append(f"{where}: data source is not {DATASOURCE_UID}")

    ids = set()
    exprs = 0
    for p in all_panels(dash.get("panels", [])):
        title = p.get("title", "?")
        if p.get("id") in ids:
            problems.append(f"{path}: panel '{title}': duplicate id {p.get('id')}")
        ids.add(p.get("id"))
        if "gridPos" not in p:
            problems.append(f"{path}: panel '{title}': no gridPos")
        if p.get("type") == "row":
            continue
        if p.get("datasource", {}).get("uid") != DATASOURCE_UID:
            problems.append(f"{path}: panel '{title}': data source is not {DATASOURCE_UID}")
        targets = p.get("targets", [])
        if not targets:
            problems.append(f"{path}: panel '{title}': no query")
        for t in targets:
            if t.get("datasource", {}).get("uid") != DATASOURCE_UID:
                problems.append(f"{path}: panel '{title}' {t.get('refId')}: data source is not "
                                f"{DATASOURCE_UID}")
            exprs += 1
            problems += check_expr(t.get("expr", ""), metrics,
                                   f"{path}: panel '{title}' {t.get('refId')}")
    if exprs == 0:
        problems.append(f"{path}: no PromQL expression found")
    return problems


# ---- alert rules (a small reader for the subset of YAML the rules file uses) -------------

def read_rules(path):
    """[(alert name, {field: value})]: expr, for, labels.severity and annotations."""
    lines = open(path, encoding="utf-8").read().splitlines()
    rules = []
    current = None
    section = None
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        i += 1
        if not stripped or stripped.startswith("#"):
            continue
        m = re.match(r"-\s+(alert|record):\s*(.*)", stripped)
        if m:
            current = {"_kind": m.group(1), "_indent": indent + 2}
            rules.append((m.group(2).strip().strip('"'), current))
            section = None
            continue
        if current is None or indent < current["_indent"]:
            current = None if stripped.startswith("- name:") else current
            continue
        m = re.match(r"([A-Za-z_]\w*):\s*(.*)", stripped)
        if not m:
            continue
        key, value = m.group(1), m.group(2)
        if indent == current["_indent"]:
            section = key if key in ("labels", "annotations") else None
            field = key
        else:
            field = f"{section}.{key}" if section else key
        if value in ("|", ">", "|-", ">-"):
            block = []
            while i < len(lines) and (not lines[i].strip() or
                                      len(lines[i]) - len(lines[i].lstrip()) > indent):
                block.append(lines[i].strip())
                i += 1
            value = "\n".join(block).strip()
        elif len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        current[field] = value
    return rules


def github_anchors(markdown_path):
    anchors = set()
    in_code = False
    for line in open(markdown_path, encoding="utf-8"):
        if line.startswith("```"):
            in_code = not in_code
        if in_code:
            continue
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            anchors.add(slug)
        anchors.update(re.findall(r'<a (?:id|name)="([^"]+)"', line))
    return anchors


def check_rules(path, metrics, runbook):
    problems = []
    rules = read_rules(path)
    alerts = [(n, r) for n, r in rules if r["_kind"] == "alert"]
    if not alerts:
        return [f"{path}: no alert rules found"]
    anchors = github_anchors(runbook) if os.path.exists(runbook) else set()
    if not anchors:
        problems.append(f"{runbook}: missing or without headings")
    for name, rule in alerts:
        where = f"{path}: alert {name}"
        if "expr" not in rule:
            problems.append(f"{where}: no expr")
        else:
            problems += check_expr(rule["expr"], metrics, where)
        if rule.get("labels.severity") not in ("critical", "warning", "info"):
            problems.append(f"{where}: severity must be critical, warning or info")
        for field in ("summary", "description", "runbook_url"):
            if not rule.get(f"annotations.{field}"):
                problems.append(f"{where}: no {field} annotation")
        url = rule.get("annotations.runbook_url", "")
        m = re.search(r"/docs/runbook\.md#([\w\-]+)$", url)
        if not m:
            problems.append(f"{where}: runbook_url '{url}' does not point into docs/runbook.md")
        elif m.group(1) not in anchors:
            problems.append(f"{where}: runbook anchor '#{m.group(1)}' is not a heading of "
                            f"docs/runbook.md")
    return problems


# ---- dashboard queries as recording rules, for `promtool check rules` to parse -------------

def dashboard_queries(dashboard_path):
    """Every PromQL query of the dashboard with Grafana's variables replaced by values that
    Prometheus accepts ($__rate_interval → 5m, multi-value variables → .*)."""
    dash = json.load(open(dashboard_path, encoding="utf-8"))
    queries = []
    for v in dash.get("templating", {}).get("list", []):
        query = v.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        m = re.fullmatch(r"label_values\((.*),\s*\w+\)", query or "", re.S)
        if m:
            queries.append((f"variable {v['name']}", m.group(1)))
    for p in all_panels(dash.get("panels", [])):
        for t in p.get("targets", []):
            queries.append((f"panel '{p.get('title')}' {t.get('refId')}", t.get("expr", "")))
    out = []
    for where, q in queries:
        q = q.replace("$__rate_interval", "5m").replace("$__interval", "1m")
        q = re.sub(r"\$\{?\w+\}?", ".*", q)
        out.append((where, q))
    return out


def write_dashboard_rules(dashboard_path, out_path):
    lines = ["# Generated by check_deploy_files.py: the dashboard's queries, for promtool.",
             "groups:", "  - name: dashboard_queries", "    rules:"]
    for i, (where, q) in enumerate(dashboard_queries(dashboard_path)):
        lines.append(f"      # {where}")
        lines.append(f"      - record: dashboard:query_{i}")
        lines.append(f"        expr: {json.dumps(q)}")
    open(out_path, "w", encoding="utf-8").write("\n".join(lines) + "\n")


# ---- main ---------------------------------------------------------------------------------

def paths(root):
    return (os.path.join(root, "metrics", "trunkroute_metrics.cc"),
            os.path.join(root, "deploy", "grafana", "trunkroute-dashboard.json"),
            os.path.join(root, "deploy", "prometheus", "trunkroute-alerts.yml"),
            os.path.join(root, "docs", "runbook.md"))


def check_all(root):
    metrics_cc, dashboard, rules, runbook = paths(root)
    metrics = load_metrics(metrics_cc)
    return check_dashboard(dashboard, metrics) + check_rules(rules, metrics, runbook)


def self_test(root):
    """Each deliberate mistake must be reported; the real files must pass."""
    metrics_cc, dashboard, rules, runbook = paths(root)
    metrics = load_metrics(metrics_cc)
    failures = []

    def expect(name, problems, needle):
        if not any(needle in p for p in problems):
            failures.append(f"self-test '{name}': expected a problem containing '{needle}', "
                            f"got {problems}")

    expect("unknown metric", check_expr("rate(trunkroute_failover_total[5m])", metrics, "x"),
           "unknown metric 'trunkroute_failover_total'")
    expect("histogram base name",
           check_expr("rate(trunkroute_probe_rtt_seconds[5m])", metrics, "x"),
           "unknown metric 'trunkroute_probe_rtt_seconds'")
    expect("wrong label", check_expr('trunkroute_active_calls{trunk_id="a"}', metrics, "x"),
           "has no label 'trunk_id'")
    expect("wrong by label",
           check_expr("sum by (carrier) (trunkroute_active_calls)", metrics, "x"),
           "label 'carrier'")
    expect("foreign metric", check_expr("node_load1 > 1", metrics, "x"),
           "unknown metric 'node_load1'")
    for good in ('histogram_quantile(0.99, sum by (trunk, le) (rate('
                 'trunkroute_post_dial_delay_seconds_bucket{trunk=~"$trunk"}[$__rate_interval])))',
                 'max by (trunk) ((trunkroute_trunk_health_state{state="up"} == 1) * 1 '
                 'or (trunkroute_trunk_health_state{state="down"} == 1) * 5)',
                 'up{job="trunkroute"} == 0'):
        if check_expr(good, metrics, "x"):
            failures.append(f"self-test: a correct expression was rejected: "
                            f"{check_expr(good, metrics, 'x')}")

    dash = json.load(open(dashboard, encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        def dashboard_problems(mutate):
            d = copy.deepcopy(dash)
            mutate(d)
            p = os.path.join(tmp, "d.json")
            json.dump(d, open(p, "w", encoding="utf-8"))
            return check_dashboard(p, metrics)

        def first_target(d):
            return next(p for p in all_panels(d["panels"]) if p.get("targets"))["targets"][0]

        expect("dashboard old schema",
               dashboard_problems(lambda d: d.update(schemaVersion=30)), "schemaVersion")
        expect("dashboard typo in a panel", dashboard_problems(
            lambda d: first_target(d).update(expr="sum(rate(trunkroute_call_attempt_total[5m]))")),
            "unknown metric 'trunkroute_call_attempt_total'")
        expect("dashboard fixed data source", dashboard_problems(
            lambda d: first_target(d).update(datasource={"type": "prometheus", "uid": "abc"})),
            "data source")
        expect("dashboard without route variable", dashboard_problems(
            lambda d: d["templating"].update(list=[v for v in d["templating"]["list"]
                                                   if v["name"] != "route"])),
            "template variable 'route'")
        bad = os.path.join(tmp, "bad.json")
        open(bad, "w").write("{ not json")
        expect("dashboard not JSON", check_dashboard(bad, metrics), "not valid JSON")

        text = open(rules, encoding="utf-8").read()

        def rule_problems(old, new):
            if old not in text:
                failures.append(f"self-test: '{old}' not in the rules file")
                return []
            p = os.path.join(tmp, "r.yml")
            open(p, "w", encoding="utf-8").write(text.replace(old, new, 1))
            return check_rules(p, metrics, runbook)

        expect("rules unknown metric",
               rule_problems("trunkroute_auth_failures_total", "trunkroute_auth_failure_total"),
               "unknown metric 'trunkroute_auth_failure_total'")
        expect("rules missing anchor", rule_problems("#trunkrouteauthfailures", "#no-such-anchor"),
               "runbook anchor '#no-such-anchor'")
        expect("rules no severity", rule_problems("severity: critical", "severity: page"),
               "severity must be")
        expect("rules lost annotation", rule_problems("summary:", "sumary:"), "no summary")

    real = check_all(root)
    if real:
        failures.append("self-test: the shipped files do not pass: " + "; ".join(real))
    return failures


def main(argv):
    if len(argv) == 4 and argv[2] == "--dashboard-rules":
        write_dashboard_rules(paths(argv[1])[1], argv[3])
        return 0
    if len(argv) < 2 or len(argv) > 3 or (len(argv) == 3 and argv[2] != "--self-test"):
        print(__doc__, file=sys.stderr)
        return 2
    root = argv[1]
    problems = self_test(root) if len(argv) == 3 else check_all(root)
    for p in problems:
        print("FAIL:", p, file=sys.stderr)
    if problems:
        return 1
    metrics_cc, dashboard, rules, _ = paths(root)
    dash = json.load(open(dashboard, encoding="utf-8"))
    n_targets = sum(len(p.get("targets", [])) for p in all_panels(dash["panels"]))
    n_alerts = sum(1 for _, r in read_rules(rules) if r["_kind"] == "alert")
    print(f"OK: {'self-test passed; ' if len(argv) == 3 else ''}dashboard {n_targets} queries, "
          f"{n_alerts} alert rules, metric and label names match {os.path.relpath(metrics_cc, root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
