"""Checks of the files that deploy trunkrouted: the Kubernetes manifests, the scrape configs and
the container file (used by check_deploy_files.py, which runs and self-tests them).

What "deploys" means here, each a problem when it does not hold:
- the workload runs one replica, with the comment that says why, or several with a
  PodDisruptionBudget, pod anti-affinity, a rolling update, a data volume per pod and the etcd
  flags (one config for all instances); a PodDisruptionBudget, when present, selects the pods
  and never forbids every eviction;
- every listen flag has its container port and every container port a listener; probes point
  at the gRPC (grpc.health.v1) or HTTP (/healthz) listener; every Service port targets a
  container port that exists, with the same protocol;
- TLS: when the bootstrap config has a TLS trunk (TLS is the default transport), the edge has
  its TLS listener and a certificate directory mounted from a Secret; without a TLS listener,
  no 5061 in container ports, host ports or Services;
- the edge bound to a wildcard address advertises an address from the environment (downward
  API or a value), and every $(VAR) an argument uses is defined in env;
- the API token file is mounted from a Secret and TRUNKROUTE_TOKEN_FILE names it, so the
  documented `kubectl exec ... trunkroutectl` commands carry the token; those commands name a
  workload that exists;
- the ServiceMonitor and the plain scrape config give the job name the alert rules select;
- the container's HEALTHCHECK uses grpc.health.v1 (`trunkroutectl ping`, open with a token)
  on the gRPC port the default command listens on, and EXPOSE lists what the command listens on.
"""

import json
import os
import re

try:
    import yaml
except ImportError:  # reported as a problem, never skipped
    yaml = None

WORKLOAD_KINDS = ("Deployment", "StatefulSet")


def paths(root):
    k8s = os.path.join(root, "deploy", "kubernetes")
    return {
        "manifest": os.path.join(k8s, "trunkroute.yaml"),
        "servicemonitor": os.path.join(k8s, "trunkroute-servicemonitor.yaml"),
        "scrape": os.path.join(root, "deploy", "prometheus", "trunkroute-scrape.yml"),
        "rules": os.path.join(root, "deploy", "prometheus", "trunkroute-alerts.yml"),
        "containerfile": os.path.join(root, "deploy", "container", "Containerfile"),
        "metrics_md": os.path.join(root, "docs", "metrics.md"),
    }


def load_documents(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def parse_args(args):
    """{"--flag": value or True} from a container's args ("--flag=value" or "--flag value")."""
    out = {}
    i = 0
    while i < len(args):
        a = str(args[i])
        if "=" in a:
            k, v = a.split("=", 1)
            out[k] = v
        elif i + 1 < len(args) and not str(args[i + 1]).startswith("--"):
            out[a] = str(args[i + 1])
            i += 1
        else:
            out[a] = True
        i += 1
    return out


def port_of(address):
    m = re.search(r":(\d+)$", str(address))
    return int(m.group(1)) if m else None


def host_of(address):
    return re.sub(r":\d+$", "", str(address)).strip("[]")


def rules_job(rules_path):
    """The job name the alert rules select (up{job="..."}); every rule must agree."""
    jobs = set(re.findall(r'job="([^"]+)"', open(rules_path, encoding="utf-8").read()))
    return jobs.pop() if len(jobs) == 1 else None


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# ---- the workload -------------------------------------------------------------------------

def check_workload(path, docs, text):
    problems = []
    workloads = [d for d in docs if d.get("kind") in WORKLOAD_KINDS]
    if len(workloads) != 1:
        return [f"{path}: expected one Deployment or StatefulSet, found {len(workloads)}"], None
    w = workloads[0]
    where = f"{path}: {w['kind']} {w['metadata']['name']}"
    spec = w["spec"]
    pod = spec["template"]
    pod_labels = pod["metadata"].get("labels", {})
    if not matches(spec.get("selector", {}).get("matchLabels", {}), pod_labels):
        problems.append(f"{where}: selector does not select its own pod template")
    containers = [c for c in pod["spec"]["containers"] if c.get("name") == "trunkrouted"]
    if len(containers) != 1:
        return problems + [f"{where}: no container named trunkrouted"], None
    c = containers[0]
    args = parse_args(c.get("args", []))

    replicas = spec.get("replicas", 1)
    pdbs = [d for d in docs if d.get("kind") == "PodDisruptionBudget"]
    if replicas < 1:
        problems.append(f"{where}: replicas {replicas}")
    elif replicas == 1:
        # Why one: written next to it, so that nobody scales it without the shared config.
        m = re.search(r"((?:^[ \t]*#.*\n)*)^[ \t]*replicas:\s*1\b(.*)$", text, re.M)
        if not m or ("#" not in m.group(2) and not m.group(1).strip()):
            problems.append(f"{where}: replicas: 1 without a comment saying why")
    else:
        if not pdbs:
            problems.append(f"{where}: {replicas} replicas without a PodDisruptionBudget")
        anti = pod["spec"].get("affinity", {}).get("podAntiAffinity", {})
        terms = (anti.get("requiredDuringSchedulingIgnoredDuringExecution", []) +
                 [t.get("podAffinityTerm", {})
                  for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])])
        if not any(matches(t.get("labelSelector", {}).get("matchLabels", {}), pod_labels) and
                   t.get("topologyKey") for t in terms):
            problems.append(f"{where}: {replicas} replicas without pod anti-affinity on its pods")
        strategy = (spec.get("strategy", {}) if w["kind"] == "Deployment"
                    else spec.get("updateStrategy", {})).get("type", "RollingUpdate")
        if strategy != "RollingUpdate":
            problems.append(f"{where}: {replicas} replicas with a {strategy} update")
        if "--etcd-endpoints" not in args:
            problems.append(f"{where}: {replicas} replicas without --etcd-endpoints: each "
                            "instance would serve its own copy of the config")
        if w["kind"] == "Deployment" and any(v.get("persistentVolumeClaim")
                                             for v in pod["spec"].get("volumes", [])):
            problems.append(f"{where}: {replicas} replicas share one PersistentVolumeClaim as "
                            "their data directory (use a StatefulSet's volumeClaimTemplates)")
    for pdb in pdbs:
        pwhere = f"{path}: PodDisruptionBudget {pdb['metadata']['name']}"
        ps = pdb.get("spec", {})
        if not matches(ps.get("selector", {}).get("matchLabels", {}), pod_labels):
            problems.append(f"{pwhere}: does not select the trunkroute pods")
        if "minAvailable" in ps and isinstance(ps["minAvailable"], int) and \
                ps["minAvailable"] >= replicas:
            problems.append(f"{pwhere}: minAvailable {ps['minAvailable']} with {replicas} "
                            "replica(s) forbids every eviction (node drains hang)")
        if "maxUnavailable" in ps and ps["maxUnavailable"] in (0, "0%"):
            problems.append(f"{pwhere}: maxUnavailable 0 forbids every eviction")
        if "minAvailable" not in ps and "maxUnavailable" not in ps:
            problems.append(f"{pwhere}: neither minAvailable nor maxUnavailable")
    return problems, (w, pod, c, args)


def check_container(path, docs, workload):
    w, pod, c, args = workload
    where = f"{path}: container trunkrouted"
    problems = []
    ports = c.get("ports", [])
    by_name = {p["name"]: p for p in ports if "name" in p}
    env = {e["name"]: e for e in c.get("env", [])}
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
    claim_templates = {t["metadata"]["name"] for t in w["spec"].get("volumeClaimTemplates", [])}

    def mount_of(file_or_dir, kind, is_dir=False):
        """The volume of `kind` mounted at file_or_dir (or at its directory)."""
        d = file_or_dir if is_dir else os.path.dirname(file_or_dir)
        name = mounts.get(d)
        return volumes.get(name, {}).get(kind) if name else None

    # Listen flags ↔ container ports.
    listeners = {}  # port → protocols served
    for flag, protos in (("--sip-listen", {"UDP", "TCP"}), ("--sip-tls-listen", {"TCP"}),
                         ("--grpc-listen", {"TCP"}), ("--http-listen", {"TCP"})):
        if flag in args:
            port = port_of(args[flag])
            if port is None:
                problems.append(f"{where}: {flag}={args[flag]} has no port")
                continue
            listeners.setdefault(port, set()).update(protos)
    declared = {}
    for p in ports:
        proto = p.get("protocol", "TCP")
        declared.setdefault(p["containerPort"], set()).add(proto)
        if proto not in listeners.get(p["containerPort"], set()):
            problems.append(f"{where}: port {p.get('name')} {p['containerPort']}/{proto} is "
                            "published but nothing listens on it")
    for port, protos in listeners.items():
        for proto in protos - declared.get(port, set()):
            problems.append(f"{where}: listens on {port}/{proto} without a container port")

    # Probes.
    grpc_port, http_port = port_of(args.get("--grpc-listen", "")), port_of(args.get("--http-listen", ""))
    for probe_name in ("readinessProbe", "livenessProbe", "startupProbe"):
        probe = c.get(probe_name)
        if not probe:
            if probe_name != "startupProbe":
                problems.append(f"{where}: no {probe_name}")
            continue
        if "grpc" in probe:
            port = probe["grpc"].get("port")
            if port != grpc_port:
                problems.append(f"{where}: {probe_name} asks grpc.health.v1 on {port}, "
                                f"--grpc-listen is on {grpc_port}")
        elif "httpGet" in probe:
            port = probe["httpGet"].get("port")
            port = by_name[port]["containerPort"] if port in by_name else port
            if port != http_port or probe["httpGet"].get("path") != "/healthz":
                problems.append(f"{where}: {probe_name} httpGet {port}"
                                f"{probe['httpGet'].get('path')} is not /healthz on the HTTP "
                                f"listener ({http_port})")
        else:
            problems.append(f"{where}: {probe_name} is neither grpc nor httpGet")

    # TLS against the bootstrap config's trunks.
    boot = args.get("--bootstrap-config")
    config = None
    if boot:
        cm = mount_of(boot, "configMap")
        cms = [d for d in docs if d.get("kind") == "ConfigMap" and cm and
               d["metadata"]["name"] == cm.get("name")]
        if not cms or os.path.basename(boot) not in cms[0].get("data", {}):
            problems.append(f"{where}: --bootstrap-config {boot} is not a key of a mounted "
                            "ConfigMap")
        else:
            try:
                config = json.loads(cms[0]["data"][os.path.basename(boot)])
            except ValueError as e:
                problems.append(f"{path}: ConfigMap {cm['name']}: not JSON: {e}")
    tls_trunks = [t.get("id") for t in (config or {}).get("trunks", [])
                  if t.get("transport", "TRANSPORT_TLS") in ("TRANSPORT_TLS", "TRANSPORT_UNSPECIFIED")]
    tls_port = port_of(args.get("--sip-tls-listen", "")) if "--sip-tls-listen" in args else None
    if tls_trunks:
        if tls_port is None:
            problems.append(f"{where}: trunks {tls_trunks} use TLS but there is no "
                            "--sip-tls-listen")
        cert_dir = args.get("--sip-tls-cert-dir")
        if not cert_dir:
            problems.append(f"{where}: trunks {tls_trunks} use TLS but there is no "
                            "--sip-tls-cert-dir")
        elif not mount_of(cert_dir, "secret", is_dir=True):
            problems.append(f"{where}: --sip-tls-cert-dir {cert_dir} is not a mounted Secret")
    if tls_port is None:
        for p in ports:
            if p["containerPort"] == 5061 or p.get("hostPort") == 5061 or p.get("name") == "sip-tls":
                problems.append(f"{where}: port {p.get('name')} publishes 5061 without a TLS "
                                "listener")
        for svc in (d for d in docs if d.get("kind") == "Service"):
            for sp in svc["spec"].get("ports", []):
                if sp.get("port") == 5061 or sp.get("targetPort") == "sip-tls":
                    problems.append(f"{path}: Service {svc['metadata']['name']} publishes 5061 "
                                    "without a TLS listener")

    # The advertised address, from the environment.
    referenced = set()
    for a in c.get("args", []):
        referenced |= set(re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", str(a)))
    for var in sorted(referenced - set(env)):
        problems.append(f"{where}: args use $({var}) but env does not define {var}")
    sip_host = host_of(args.get("--sip-listen", "127.0.0.1:5060"))
    if sip_host in ("0.0.0.0", "::"):
        adv = args.get("--sip-advertised-address")
        if not adv:
            problems.append(f"{where}: the edge binds {sip_host} without "
                            "--sip-advertised-address: Via/Contact would carry the pod IP")
        elif not re.search(r"\$\([A-Za-z_]\w*\)", str(adv)):
            problems.append(f"{where}: --sip-advertised-address={adv} is fixed in the args; it "
                            "must come from the environment (downward API or a value)")
        else:
            for var in re.findall(r"\$\(([A-Za-z_]\w*)\)", str(adv)):
                e = env.get(var, {})
                field = e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
                if var in env and not e.get("value") and field not in ("status.hostIP",
                                                                       "status.podIP"):
                    problems.append(f"{where}: {var} comes from neither a value nor the "
                                    "downward API's status.hostIP")
                sip_ports = [p for p in ports if p["containerPort"] == port_of(args["--sip-listen"])]
                if field == "status.hostIP" and not (sip_ports and
                                                     all(p.get("hostPort") for p in sip_ports)):
                    problems.append(f"{where}: advertises the node's address without a hostPort "
                                    "for the SIP port: nothing listens there")

    # Data directory and the token.
    data_dir = args.get("--data-dir")
    data_volume = mounts.get(data_dir)
    if not data_volume or (data_volume not in claim_templates and
                           not volumes.get(data_volume, {}).get("persistentVolumeClaim")):
        problems.append(f"{where}: --data-dir {data_dir} is not on a persistent volume")
    token = args.get("--api-token-file")
    if token:
        if not mount_of(token, "secret"):
            problems.append(f"{where}: --api-token-file {token} is not in a mounted Secret")
        if env.get("TRUNKROUTE_TOKEN_FILE", {}).get("value") != token:
            problems.append(f"{where}: TRUNKROUTE_TOKEN_FILE is not --api-token-file ({token}): "
                            "`kubectl exec ... trunkroutectl` would have no token")
    return problems


def check_services(path, docs, workload):
    w, pod, c, args = workload
    problems = []
    pod_labels = pod["metadata"].get("labels", {})
    ports = c.get("ports", [])
    for svc in (d for d in docs if d.get("kind") == "Service"):
        where = f"{path}: Service {svc['metadata']['name']}"
        if not matches(svc["spec"].get("selector", {}), pod_labels):
            problems.append(f"{where}: does not select the trunkroute pods")
        for sp in svc["spec"].get("ports", []):
            target = sp.get("targetPort", sp.get("port"))
            proto = sp.get("protocol", "TCP")
            found = [p for p in ports if (p.get("name") == target or p["containerPort"] == target)
                     and p.get("protocol", "TCP") == proto]
            if not found:
                problems.append(f"{where}: port {sp.get('name')} targets {target}/{proto}, "
                                "which the container does not publish")
    if w["kind"] == "StatefulSet":
        governing = w["spec"].get("serviceName")
        if not any(d.get("kind") == "Service" and d["metadata"]["name"] == governing for d in docs):
            problems.append(f"{path}: StatefulSet serviceName {governing} is not a Service here")
    return problems


def check_exec_commands(path, text, docs, workload):
    """Documented `kubectl ... exec ... -- trunkroutectl` lines must name the workload's pods."""
    w = workload[0]
    name, kind = w["metadata"]["name"], w["kind"]
    problems = []
    found = 0
    for line in text.splitlines():
        m = re.search(r"kubectl\b.*\bexec\b(.*?)\s--\s+trunkroutectl\b", line)
        if not m:
            continue
        found += 1
        target = [t for t in m.group(1).split() if not t.startswith("-") and t != "trunkroute"]
        ok = False
        for t in target:
            short = {"Deployment": ("deploy", "deployment"), "StatefulSet": ("sts", "statefulset")}
            if "/" in t:
                k, n = t.split("/", 1)
                ok = ok or (k in short[kind] and n == name)
            elif kind == "StatefulSet":
                ok = ok or bool(re.fullmatch(re.escape(name) + r"-\d+", t))
        if not ok:
            problems.append(f"{path}: '{line.strip()}' does not name a pod of {kind} {name}")
    if found == 0:
        problems.append(f"{path}: no documented `kubectl exec ... -- trunkroutectl` command")
    return problems


# ---- scraping -----------------------------------------------------------------------------

def check_scraping(p, docs, workload):
    problems = []
    job = rules_job(p["rules"])
    if not job:
        return [f"{p['rules']}: the rules do not agree on one job=\"...\""]
    w, pod, c, args = workload
    pod_labels = pod["metadata"].get("labels", {})
    port_names = {x.get("name") for x in c.get("ports", [])}

    # ServiceMonitor → Service → job label.
    if not os.path.exists(p["servicemonitor"]):
        problems.append(f"{p['servicemonitor']}: missing")
    else:
        for sm in load_documents(p["servicemonitor"]):
            where = f"{p['servicemonitor']}: ServiceMonitor {sm['metadata']['name']}"
            spec = sm.get("spec", {})
            namespaces = spec.get("namespaceSelector", {}).get("matchNames",
                                                                [sm["metadata"].get("namespace")])
            selected = [d for d in docs if d.get("kind") == "Service" and
                        d["metadata"].get("namespace") in namespaces and
                        matches(spec.get("selector", {}).get("matchLabels", {}),
                                d["metadata"].get("labels", {}))]
            if len(selected) != 1:
                problems.append(f"{where}: selects {len(selected)} Services, expected 1")
                continue
            svc = selected[0]
            svc_ports = {sp.get("name") for sp in svc["spec"].get("ports", [])}
            for ep in spec.get("endpoints", []):
                if ep.get("port") not in svc_ports:
                    problems.append(f"{where}: endpoint port {ep.get('port')} is not a port of "
                                    f"Service {svc['metadata']['name']}")
                if ep.get("path", "/metrics") != "/metrics":
                    problems.append(f"{where}: endpoint path {ep.get('path')} is not /metrics")
            label = spec.get("jobLabel")
            got = (svc["metadata"].get("labels", {}).get(label) if label
                   else svc["metadata"]["name"])
            if got != job:
                problems.append(f"{where}: the job label would be '{got}', the alert rules "
                                f"select job=\"{job}\"")

    # Plain scrape config (Kubernetes pod discovery).
    if not os.path.exists(p["scrape"]):
        problems.append(f"{p['scrape']}: missing")
    else:
        cfg = load_documents(p["scrape"])
        jobs = cfg[0].get("scrape_configs", []) if cfg else []
        if not jobs:
            problems.append(f"{p['scrape']}: no scrape_configs")
        for sc in jobs:
            where = f"{p['scrape']}: job {sc.get('job_name')}"
            if sc.get("job_name") != job:
                problems.append(f"{where}: the alert rules select job=\"{job}\"")
            keeps = {r["source_labels"][0]: r["regex"] for r in sc.get("relabel_configs", [])
                     if r.get("action") == "keep" and r.get("source_labels")}
            for src, regex in keeps.items():
                m = re.fullmatch(r"__meta_kubernetes_pod_label_(\w+)", src)
                if m and not re.fullmatch(regex, pod_labels.get(m.group(1), "")):
                    problems.append(f"{where}: keeps pods with {m.group(1)}={regex}; the pods "
                                    f"have {m.group(1)}={pod_labels.get(m.group(1))}")
                if src == "__meta_kubernetes_pod_container_port_name" and \
                        not any(re.fullmatch(regex, n or "") for n in port_names):
                    problems.append(f"{where}: keeps container port {regex}, which the "
                                    "container does not have")

    # docs/metrics.md's static scrape config.
    md = open(p["metrics_md"], encoding="utf-8").read()
    names = re.findall(r"job_name:\s*(\S+)", md)
    if not names or any(n != job for n in names):
        problems.append(f"{p['metrics_md']}: scrape config job_name {names}, the alert rules "
                        f"select job=\"{job}\"")
    return problems


# ---- the container file -------------------------------------------------------------------

def check_containerfile(path):
    problems = []
    text = open(path, encoding="utf-8").read().replace("\\\n", " ")
    cmd = re.search(r"^CMD\s+(\[.*\])\s*$", text, re.M)
    health = re.search(r"^HEALTHCHECK\b.*?\bCMD\s+(\[.*\])\s*$", text, re.M)
    expose = re.search(r"^EXPOSE\s+(.*)$", text, re.M)
    if not cmd or not health or not expose:
        return [f"{path}: CMD, HEALTHCHECK CMD or EXPOSE missing (exec form expected)"]
    args = parse_args(json.loads(cmd.group(1)))
    hc = json.loads(health.group(1))
    if not hc or not hc[0].endswith("trunkroutectl") or "ping" not in hc:
        problems.append(f"{path}: HEALTHCHECK {hc} does not use `trunkroutectl ping` "
                        "(grpc.health.v1, open when the API needs a token)")
    hc_server = parse_args(hc[1:]).get("--server", "127.0.0.1:50051")
    if port_of(hc_server) != port_of(args.get("--grpc-listen", "127.0.0.1:50051")):
        problems.append(f"{path}: HEALTHCHECK asks {hc_server}, the gRPC listener is "
                        f"{args.get('--grpc-listen')}")
    listening = set()
    for flag, protos in (("--sip-listen", ("udp", "tcp")), ("--sip-tls-listen", ("tcp",)),
                         ("--grpc-listen", ("tcp",)), ("--http-listen", ("tcp",))):
        if flag in args:
            listening |= {f"{port_of(args[flag])}/{proto}" for proto in protos}
    exposed = set(expose.group(1).split())
    for e in sorted(exposed - listening):
        problems.append(f"{path}: EXPOSE {e}, but the default command does not listen on it")
    for e in sorted(listening - exposed):
        problems.append(f"{path}: the default command listens on {e}, which EXPOSE omits")
    return problems


# ---- all of it ----------------------------------------------------------------------------

def check_manifests(root, override=None):
    """Every problem of the deploy files. `override` maps a path key to another file (the
    self-test's mutations)."""
    p = dict(paths(root))
    p.update(override or {})
    if yaml is None:
        return ["deploy manifests: PyYAML is missing (apt-get install python3-yaml)"]
    problems = []
    try:
        docs = load_documents(p["manifest"])
    except (OSError, yaml.YAMLError) as e:
        return [f"{p['manifest']}: {e}"]
    text = open(p["manifest"], encoding="utf-8").read()
    workload_problems, workload = check_workload(p["manifest"], docs, text)
    problems += workload_problems
    if workload:
        problems += check_container(p["manifest"], docs, workload)
        problems += check_services(p["manifest"], docs, workload)
        problems += check_exec_commands(p["manifest"], text, docs, workload)
        problems += check_scraping(p, docs, workload)
    problems += check_containerfile(p["containerfile"])
    return problems
