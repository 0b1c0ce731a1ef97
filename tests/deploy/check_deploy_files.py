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
labels plus job, instance and le. Label values of the vocabularies trunkroute defines (state,
from/to of transitions, reasons, outcomes, results) must be words the exporter writes, read from
the sources that write them (health/health_words.h, sip/edge_rejections.h, ...); the alert
unit tests' input series are held to the same words. The dashboard must parse, use
schemaVersion >= 36, take its data source from ${DS_PROMETHEUS}, offer trunk and route
variables, and lay its panels out without overlap inside 24 columns; every alert needs a
severity, summary, description and a runbook_url whose anchor is a heading of docs/runbook.md.
docs/metrics.md's bucket table must be the buckets the code declares.

The Kubernetes manifests, the scrape configs and the container file are checked by
deploy_manifests.py (imported; it needs PyYAML, Debian's python3-yaml).
"""

import copy
import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_manifests  # noqa: E402  (next to this file)

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


# ---- label vocabularies ------------------------------------------------------------------

def _string_literals(text):
    return re.findall(r'"((?:[^"\\]|\\.)*)"', text)


def load_vocabulary(root):
    """{metric: {label: set of words, or a compiled regex}}: the values the exporter writes, read
    from the code that writes them."""
    def read(*parts):
        return open(os.path.join(root, *parts), encoding="utf-8").read()

    words = read("health", "health_words.h")

    def returns_of(function):
        body = words[words.index(function):]
        body = body[:body.index("\n}\n")]
        return set(re.findall(r'return "([a-z_]+)";', body)) - {"unspecified"}

    states = returns_of("HealthStateShortName")
    reasons = returns_of("HealthReasonShortName")
    # The outcome label is ReportCallOutcomeResponse.outcome_class's name in lower case
    # (metrics/health_metrics_observer.cc OutcomeLabel).
    outcome_cc = read("health", "outcome.cc")
    body = outcome_cc[outcome_cc.index("std::string_view OutcomeClassName("):]
    outcomes = {w.lower() for w in re.findall(r'return "([A-Z_]+)";', body[:body.index("\n}\n")])}
    results = set(re.findall(r'kResult\w+ = "([a-z_]+)"', read("router", "decision_observer.h")))
    probes = set(re.findall(r'kProbe\w+ = "([a-z_]+)"', read("metrics", "trunkroute_metrics.h")))
    edge_text = read("sip", "edge_rejections.h")
    edge = set(re.findall(r'kReject\w+ = "([a-z_]+)"', edge_text))
    codes = set(re.findall(r'\{\d{3}, "(\d{3})", kReject', edge_text))
    # Failover reasons: health/outcome.cc FailoverReasonLabel (the status, or timeout /
    # transport_error), plus no_codec (reserved, docs/metrics.md).
    failover = re.compile(r"\d{3}|timeout|transport_error|no_codec")
    for name, found in (("states", states), ("reasons", reasons), ("outcomes", outcomes),
                        ("results", results), ("probe results", probes),
                        ("edge reasons", edge), ("edge codes", codes)):
        if len(found) < 3:
            raise SystemExit(f"label vocabulary: found only {sorted(found)} as {name}; the "
                             "source no longer reads as this checker expects")
    return {
        "trunkroute_trunk_health_state": {"state": states},
        "trunkroute_trunk_health_transitions_total": {"from": states, "to": states},
        "trunkroute_trunk_ejections_total": {"reason": reasons},
        "trunkroute_call_attempts_total": {"outcome": outcomes},
        "trunkroute_route_decisions_total": {"result": results},
        "trunkroute_probes_total": {"result": probes},
        "trunkroute_failovers_total": {"reason": failover},
        "trunkroute_edge_rejections_total": {"reason": edge, "code": codes},
    }


def _value_ok(value, allowed):
    if isinstance(allowed, set):
        return value in allowed
    return bool(allowed.fullmatch(value))


def check_label_values(expr, vocabulary, where):
    """Problems with label values a selector compares against our vocabularies: a state written
    "DOWN" where the exporter writes "down" matches nothing, and the alert never fires."""
    problems = []
    for m in re.finditer(r'([A-Za-z_:][\w:]*)\s*\{((?:[^{}"]|"(?:[^"\\]|\\.)*")*)\}', expr):
        metric = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
        labels = vocabulary.get(metric) or vocabulary.get(m.group(1))
        if not labels:
            continue
        for label, op, value in re.findall(r'([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"',
                                           m.group(2)):
            if label not in labels or "$" in value or value == "":
                continue
            alternatives = value.split("|") if op in ("=~", "!~") else [value]
            for alt in alternatives:
                if re.fullmatch(r"[\w]+", alt) and not _value_ok(alt, labels[label]):
                    problems.append(f"{where}: {m.group(1)}{{{label}{op}\"{value}\"}}: '{alt}' is "
                                    f"not a value trunkrouted writes for {label}")
    return problems


def check_rule_test_series(path, vocabulary):
    """The alert unit tests' input series must look like trunkrouted's /metrics."""
    problems = []
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        m = re.match(r"\s*- series:\s*'(.*)'\s*$", line)
        if m:
            problems += check_label_values(m.group(1), vocabulary, f"{path}:{n}")
    return problems


# ---- histogram buckets: docs/metrics.md against the code ----------------------------------

def code_buckets(metrics_cc):
    """{histogram name: [bounds]} from the AddHistogram calls and their bucket constants."""
    text = open(metrics_cc, encoding="utf-8").read()
    constants = {name: [float(v) for v in re.split(r"[,\s]+", body.strip()) if v]
                 for name, body in re.findall(r"const std::vector<double> (k\w+) = \{([^}]*)\};",
                                              text)}
    out = {}
    for name, const in re.findall(r'AddHistogram\(\s*"([a-z_]+)".*?\b(k\w+Buckets)\)', text, re.S):
        out[name] = constants.get(const)
    return out


def doc_buckets(metrics_md):
    out = {}
    for line in open(metrics_md, encoding="utf-8"):
        m = re.match(r"\|\s*`(trunkroute_\w+)`\s*\|\s*([0-9.,\s]+)\|\s*$", line)
        if m:
            out[m.group(1)] = [float(v) for v in m.group(2).replace(",", " ").split()]
    return out


def check_buckets(metrics_cc, metrics_md):
    code, docs = code_buckets(metrics_cc), doc_buckets(metrics_md)
    problems = []
    if len(code) < 3:
        problems.append(f"{metrics_cc}: found {len(code)} histograms; the pattern no longer matches")
    for name, bounds in code.items():
        if bounds is None:
            problems.append(f"{metrics_cc}: histogram {name}: bucket constant not found")
        elif docs.get(name) != bounds:
            problems.append(f"{metrics_md}: buckets of {name} are {docs.get(name)}, the code "
                            f"declares {bounds}")
    return problems


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


def check_dashboard(path, metrics, vocabulary=None):
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
    problems += check_layout(path, dash.get("panels", []))
    # Every metric trunkrouted exports has a panel: the runbook sends operators to the dashboard
    # for each (a family without a panel is one they cannot see there).
    shown = set()
    for p in all_panels(dash.get("panels", [])):
        for t in p.get("targets", []):
            shown |= set(re.findall(r"trunkroute_[a-z_]+", t.get("expr", "")))
    shown = {re.sub(r"_(bucket|sum|count)$", "", n) for n in shown}
    for name in sorted({re.sub(r"_(bucket|sum|count)$", "", n) for n in metrics} - {"up"}):
        if name not in shown:
            problems.append(f"{path}: no panel shows {name}")
    if vocabulary is not None:
        for p in all_panels(dash.get("panels", [])):
            for t in p.get("targets", []):
                problems += check_label_values(t.get("expr", ""), vocabulary,
                                               f"{path}: panel '{p.get('title')}' {t.get('refId')}")
    return problems


def check_layout(path, panels):
    """Panels inside the 24-column grid and not on top of each other: Grafana draws overlapping
    panels over one another (one hides the other). The panels of a collapsed row are laid out
    among themselves."""
    problems = []

    def rect(p):
        g = p.get("gridPos", {})
        return g.get("x", 0), g.get("y", 0), g.get("w", 0), g.get("h", 0)

    def check_level(level, where):
        for p in level:
            x, y, w, h = rect(p)
            if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > 24:
                problems.append(f"{path}: panel '{p.get('title')}'{where}: gridPos x={x} y={y} "
                                f"w={w} h={h} is outside the 24-column grid")
        for i, a in enumerate(level):
            ax, ay, aw, ah = rect(a)
            for b in level[i + 1:]:
                bx, by, bw, bh = rect(b)
                if ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah:
                    problems.append(f"{path}: panels '{a.get('title')}' and '{b.get('title')}'"
                                    f"{where} overlap")
        for p in level:
            if p.get("type") == "row" and p.get("panels"):
                check_level(p["panels"], f" (in collapsed row '{p.get('title')}')")

    check_level(panels, "")
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


def check_rules(path, metrics, runbook, vocabulary=None):
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
            if vocabulary is not None:
                problems += check_label_values(rule["expr"], vocabulary, where)
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
    vocabulary = load_vocabulary(root)
    rule_tests = os.path.join(os.path.dirname(rules), "trunkroute-alerts.test.yml")
    return (check_dashboard(dashboard, metrics, vocabulary) +
            check_rules(rules, metrics, runbook, vocabulary) +
            check_rule_test_series(rule_tests, vocabulary) +
            check_buckets(metrics_cc, os.path.join(root, "docs", "metrics.md")) +
            deploy_manifests.check_manifests(root))


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

    vocabulary = load_vocabulary(root)
    expect("upper-case state", check_label_values(
        'trunkroute_trunk_health_state{state=~"DOWN|probing"} == 1', vocabulary, "x"),
        "'DOWN' is not a value trunkrouted writes for state")
    expect("ejection reason", check_label_values(
        'trunkroute_trunk_ejections_total{reason="TRANSPORT_ERROR"}', vocabulary, "x"),
        "'TRANSPORT_ERROR'")
    expect("outcome", check_label_values(
        'trunkroute_call_attempts_total{outcome="FAILOVER"}', vocabulary, "x"), "'FAILOVER'")
    for good in ('trunkroute_failovers_total{reason="503", to=""}',
                 'trunkroute_edge_rejections_total{code="403",reason="source_not_allowed"}',
                 'trunkroute_trunk_health_transitions_total{from="up",to=~"down|probing"}'):
        if check_label_values(good, vocabulary, "x"):
            failures.append(f"self-test: correct label values rejected: "
                            f"{check_label_values(good, vocabulary, 'x')}")

    with tempfile.TemporaryDirectory() as tmp:
        def dash_problems(mutate):
            d = copy.deepcopy(dash)
            mutate(d)
            path = os.path.join(tmp, "d.json")
            json.dump(d, open(path, "w", encoding="utf-8"))
            return check_dashboard(path, metrics, vocabulary)

        def overlap(d):
            panels = [p for p in d["panels"] if p.get("type") != "row"]
            panels[1]["gridPos"] = dict(panels[0]["gridPos"])

        def too_wide(d):
            next(p for p in d["panels"] if p.get("type") != "row")["gridPos"]["w"] = 30

        def upper_state(d):
            first_target(d)["expr"] = 'trunkroute_trunk_health_state{state="UP"} == 1'

        def first_target(d):
            return next(p for p in all_panels(d["panels"]) if p.get("targets"))["targets"][0]

        expect("dashboard overlap", dash_problems(overlap), "overlap")
        expect("dashboard without a metric", dash_problems(
            lambda d: d.update(panels=[p for p in d["panels"]
                                       if "edge_rejections" not in json.dumps(p)])),
            "no panel shows trunkroute_edge_rejections_total")
        expect("dashboard too wide", dash_problems(too_wide), "outside the 24-column grid")
        expect("dashboard upper-case state", dash_problems(upper_state), "'UP' is not a value")

        rule_tests = os.path.join(os.path.dirname(rules), "trunkroute-alerts.test.yml")
        t = open(rule_tests, encoding="utf-8").read()
        bad_tests = os.path.join(tmp, "t.yml")
        open(bad_tests, "w").write(t.replace('state="down"', 'state="DOWN"', 1))
        expect("rule test series", check_rule_test_series(bad_tests, vocabulary), "'DOWN'")

        md = open(os.path.join(root, "docs", "metrics.md"), encoding="utf-8").read()
        bad_md = os.path.join(tmp, "metrics.md")
        open(bad_md, "w").write(md.replace("| `trunkroute_probe_rtt_seconds` | 0.0005, ",
                                           "| `trunkroute_probe_rtt_seconds` | ", 1))
        expect("buckets docs", check_buckets(metrics_cc, bad_md),
               "buckets of trunkroute_probe_rtt_seconds")

        failures += deploy_manifests_self_test(root, tmp, expect)

    real = check_all(root)
    if real:
        failures.append("self-test: the shipped files do not pass: " + "; ".join(real))
    return failures


def deploy_manifests_self_test(root, tmp, expect):
    """Each mutation of a deploy file that would not deploy must be reported."""
    failures = []
    files = deploy_manifests.paths(root)
    for key, old, new, needle in (
            ("manifest", "            - --sip-tls-listen=0.0.0.0:5061\n", "",
             "use TLS but there is no --sip-tls-listen"),
            ("manifest", "            - --sip-tls-listen=0.0.0.0:5061\n", "",
             "publishes 5061 without a TLS listener"),
            ("manifest", "            - {name: sip-tls, mountPath: /etc/trunkroute-tls, readOnly: true}\n",
             "", "--sip-tls-cert-dir /etc/trunkroute-tls is not a mounted Secret"),
            ("manifest", "            - --etcd-endpoints=", "            - --etcd-endpointz=",
             "without --etcd-endpoints"),
            ("manifest", "WHY_REPLICAS", "  replicas: 1\n", "replicas: 1 without a comment saying why"),
            ("manifest", "kind: PodDisruptionBudget\n", "kind: PodDisruptionBudgetX\n",
             "without a PodDisruptionBudget"),
            ("manifest", "httpGet: {scheme: HTTPS, port: metrics, path: /healthz}",
             "httpGet: {scheme: HTTPS, port: grpc, path: /healthz}",
             "is not /healthz on the HTTP listener"),
            ("manifest", "httpGet: {scheme: HTTPS, port: metrics, path: /healthz}",
             "httpGet: {port: metrics, path: /healthz}",
             "readinessProbe uses scheme HTTP, the HTTP listener speaks HTTPS"),
            ("manifest", "httpGet: {scheme: HTTPS, port: metrics, path: /healthz}",
             "grpc: {port: 50051}", "is a gRPC probe, which the kubelet sends in plaintext"),
            ("manifest", "            - --api-tls-key=/etc/trunkroute-api-tls/tls.key\n",
             "            - --api-tls-key=/etc/trunkroute-api-tls/tls.key\n"
             "            - --api-tls-client-ca=/etc/trunkroute-api-tls/ca.crt\n",
             "the kubelet presents no client certificate"),
            # API TLS: the flags, the Secret volume, its mount and mode.
            ("manifest", "            - --api-tls-cert=/etc/trunkroute-api-tls/tls.crt\n", "",
             "reaches beyond loopback without --api-tls-cert"),
            ("manifest", "mountPath: /etc/trunkroute-api-tls, readOnly: true}",
             "mountPath: /etc/trunkroute-api-tlz, readOnly: true}",
             "--api-tls-key=/etc/trunkroute-api-tls/tls.key is not in a mounted Secret"),
            ("manifest", "mountPath: /etc/trunkroute-api-tls, readOnly: true}",
             "mountPath: /etc/trunkroute-api-tls}",
             "--api-tls-key: volume api-tls is not mounted read-only"),
            ("manifest", "secret: {secretName: trunkroute-api-tls, defaultMode: 0440}",
             "secret: {secretName: trunkroute-api-tls}",
             "--api-tls-key: volume api-tls gives mode 0644"),
            ("manifest", "secret: {secretName: trunkroute-api-tls, defaultMode: 0440}",
             "secret: {secretName: trunkroute-api-tls, defaultMode: 0440, items: "
             "[{key: tls.crt, path: tls.crt}]}",
             "volume api-tls does not provide tls.key"),
            ("manifest", "        fsGroup: 10001\n", "",
             "no fsGroup, so the daemon's user cannot read"),
            ("manifest", "        runAsUser: 10001\n", "        runAsUser: 0\n", "runs as root"),
            # Tokens: scoped, from a mounted Secret; trunkroutectl's token is a token.
            ("manifest", "--api-tokens-file=/etc/trunkroute-api-tokens/api-tokens",
             "--api-tokens-file=/etc/trunkroute/api-tokens",
             "--api-tokens-file=/etc/trunkroute/api-tokens is not in a mounted Secret"),
            ("manifest", "secret: {secretName: trunkroute-api-tokens, defaultMode: 0440}",
             "secret: {secretName: trunkroute-api-tokens, defaultMode: 0660}",
             "--api-tokens-file: volume api-tokens gives mode 0660"),
            ("manifest", "--api-tokens-file=/etc/trunkroute-api-tokens/api-tokens",
             "--api-token-file=/etc/trunkroute-api-tokens/api-tokens",
             "--api-token-file gives one token every scope"),
            ("manifest", "secret: {secretName: trunkroute-metrics-token, defaultMode: 0440}",
             "secret: {secretName: trunkroute-metrics-token, defaultMode: 0440, optional: true}",
             "Secret trunkroute-metrics-token is optional"),
            ("manifest", "              value: /var/run/secrets/trunkroute-ops/token",
             "              value: /etc/trunkroute-api-tokens/api-tokens",
             "TRUNKROUTE_TOKEN_FILE is the tokens file, which holds hashes"),
            # trunkroutectl in the pod: the CA and a name the certificate carries.
            ("manifest", "            - name: TRUNKROUTE_TLS_CA\n"
             "              value: /etc/trunkroute-api-tls/ca.crt\n", "",
             "would speak plaintext to a TLS listener"),
            ("manifest", "              value: trunkroute-api.trunkroute.svc\n",
             "              value: trunkroute.example.com\n",
             "TRUNKROUTE_TLS_SERVER_NAME trunkroute.example.com is not in the documented"),
            ("manifest", "subjectAltName=DNS:trunkroute-api.trunkroute.svc,",
             "subjectAltName=DNS:trunkroute.example.com,",
             "TRUNKROUTE_TLS_SERVER_NAME trunkroute-api.trunkroute.svc is not in the documented"),
            ("manifest", "targetPort: sip-udp", "targetPort: sip-udpp", "which the container does"),
            ("manifest", "              value: /var/run/secrets/trunkroute-ops/token",
             "              value: /tmp/api-token", "would have no token"),
            ("manifest", "            - --sip-advertised-address=$(SIP_ADVERTISED_ADDRESS)\n", "",
             "Via/Contact would carry the pod IP"),
            ("manifest", "--sip-advertised-address=$(SIP_ADVERTISED_ADDRESS)",
             "--sip-advertised-address=$(SIP_PUBLIC)", "env does not define SIP_PUBLIC"),
            ("manifest", "hostPort: 5060, protocol: UDP", "protocol: UDP",
             "advertises the node's address without a hostPort"),
            ("manifest", "  maxUnavailable: 1\n", "  minAvailable: 2\n", "forbids every eviction"),
            ("manifest", "exec -i trunkroute-0 --", "exec -i deploy/trunkroute --",
             "does not name a pod of StatefulSet trunkroute"),
            ("servicemonitor", "  jobLabel: app.kubernetes.io/name\n", "",
             "the job label would be 'trunkroute-api'"),
            ("servicemonitor", "      scheme: https\n", "",
             "endpoint scheme http, the metrics listener speaks https"),
            ("servicemonitor", "        serverName: trunkroute-api.trunkroute.svc\n", "",
             "no tlsConfig.serverName"),
            ("servicemonitor", "        serverName: trunkroute-api.trunkroute.svc\n",
             "        serverName: trunkroute-api\n",
             "tlsConfig.serverName trunkroute-api is not in the documented certificate"),
            ("servicemonitor", "      tlsConfig:\n",
             "      tlsConfig:\n        insecureSkipVerify: true\n", "insecureSkipVerify"),
            ("servicemonitor", "        ca:\n          secret: {name: trunkroute-api-tls, key: ca.crt}\n",
             "", "tlsConfig has no CA"),
            ("servicemonitor", "      authorization:\n        type: Bearer\n"
             "        credentials: {name: trunkroute-metrics-token, key: token}\n", "",
             "/metrics needs --metrics-token"),
            ("servicemonitor", "credentials: {name: trunkroute-metrics-token, key: token}",
             "credentials: {name: trunkroute-api-tokens, key: api-tokens}",
             "/metrics needs --metrics-token (Secret trunkroute-metrics-token key token)"),
            ("scrape", "    scheme: https\n", "", "scheme http, the metrics listener speaks https"),
            ("scrape", "      server_name: trunkroute-api.trunkroute.svc\n",
             "      server_name: 10.0.0.1\n",
             "tls_config.server_name 10.0.0.1 is not in the documented certificate"),
            ("scrape", "      ca_file: /etc/prometheus/trunkroute/ca.crt\n",
             "      insecure_skip_verify: true\n", "insecure_skip_verify"),
            ("scrape", "      credentials_file: /etc/prometheus/trunkroute/metrics-token\n", "",
             "the job sends no authorization credentials"),
            ("scrape", "  - job_name: trunkroute\n", "  - job_name: trunkrouted\n",
             "the alert rules select job"),
            ("scrape", "        regex: metrics\n", "        regex: metric\n",
             "keeps container port metric"),
            ("unit", "LoadCredential=api.key:/etc/trunkroute/api.key\n", "",
             "--api-tls-key: api.key is not a LoadCredential= of the unit"),
            ("unit", "  --api-tls-cert ${CREDENTIALS_DIRECTORY}/api.pem \\\n", "",
             "reaches beyond loopback without --api-tls-cert"),
            ("unit", "--api-tokens-file ${CREDENTIALS_DIRECTORY}/api-tokens",
             "--api-tokens-file /etc/trunkroute/api-tokens",
             "--api-tokens-file /etc/trunkroute/api-tokens is not a credential"),
            ("unit", "--api-tokens-file ${CREDENTIALS_DIRECTORY}/api-tokens",
             "--api-token-file ${CREDENTIALS_DIRECTORY}/api-tokens",
             "--api-token-file gives one token every scope"),
            ("unit_dropin", '  --api-tokens-file "$CREDENTIALS_DIRECTORY/api-tokens" \\\n', "",
             "its ExecStart replaces the unit's and drops --api-tokens-file"),
            ("containerfile", '"--timeout", "2", "ping"]', '"--timeout", "2", "info"]',
             "does not use `trunkroutectl ping`"),
            ("containerfile", "EXPOSE 5060/udp 5060/tcp", "EXPOSE 5060/udp 5060/tcp 5061/tcp",
             "EXPOSE 5061/tcp, but the default command does not listen on it")):
        text = open(files[key], encoding="utf-8").read()
        if old == "WHY_REPLICAS":  # the whole comment block above `replicas:`
            m = re.search(r"(?:^[ \t]*#.*\n)+^  replicas: \d+\n", text, re.M)
            old = m.group(0) if m else "  replicas: 2\n"
        if old not in text:
            failures.append(f"self-test: '{old.strip()}' not in {files[key]}")
            continue
        mutated = os.path.join(tmp, os.path.basename(files[key]))
        open(mutated, "w", encoding="utf-8").write(text.replace(old, new, 1))
        try:
            problems = deploy_manifests.check_manifests(root, {key: mutated})
        except Exception as e:  # a YAML error is also "reported"
            problems = [str(e)]
        expect(f"{key}: {old.strip()[:40]} → {new.strip()[:40]}", problems, needle)
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
