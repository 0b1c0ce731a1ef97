"""Checks of the files that deploy trunkrouted: the Kubernetes manifests, the scrape configs and
the container file (used by check_deploy_files.py, which runs and self-tests them).

What "deploys" means here, each a problem when it does not hold:
- the workload runs one replica, with the comment that says why, or several with a
  PodDisruptionBudget, pod anti-affinity, a rolling update, a data volume per pod and the etcd
  flags (one config for all instances); a PodDisruptionBudget, when present, selects the pods
  and never forbids every eviction;
- every listen flag has its container port and every container port a listener; probes point
  at the gRPC (grpc.health.v1) or HTTP (/healthz) listener in the scheme it speaks: HTTPS when
  the API has TLS, and then no gRPC probe (the kubelet's gRPC probe cannot do TLS) and no
  --api-tls-client-ca (the kubelet has no client certificate); every Service port targets a
  container port that exists, with the same protocol;
- API security: listeners beyond loopback have TLS (--api-tls-cert/--api-tls-key) and scoped
  tokens (--api-tokens-file), not the single all-scope --api-token-file; every secret file flag
  (TLS key and certificate, tokens file, metrics token) points into a Secret volume mounted
  read-only, at a key the volume provides, with a mode trunkrouted accepts for a root-owned file
  (at most 0640: common/secret_file.cc), an fsGroup so the daemon's user can read it, and not
  as root (a root daemon would want 0600);
- TLS: when the bootstrap config has a TLS trunk (TLS is the default transport), the edge has
  its TLS listener and a certificate directory mounted from a Secret; without a TLS listener,
  no 5061 in container ports, host ports or Services;
- the edge bound to a wildcard address advertises an address from the environment (downward
  API or a value), and every $(VAR) an argument uses is defined in env;
- TRUNKROUTE_TOKEN_FILE names a token (not the tokens file of hashes) in a mounted Secret, and
  with TLS TRUNKROUTE_TLS_CA a mounted CA file and TRUNKROUTE_TLS_SERVER_NAME a name the
  documented certificate carries (its subjectAltName), so the documented `kubectl exec ...
  trunkroutectl` commands work; those commands name a workload that exists;
- the ServiceMonitor and the plain scrape config give the job name the alert rules select, use
  the scheme the metrics listener speaks, verify its certificate (a CA, the server name the
  certificate carries, no insecure skip) and, with --metrics-token, send the token from the
  Secret the pod reads it from;
- the systemd unit and its etcd drop-in: listeners beyond loopback have TLS and scoped tokens,
  every secret file flag names a file of $CREDENTIALS_DIRECTORY that a LoadCredential= provides
  (a DynamicUser cannot read /etc/trunkroute), and the drop-in's ExecStart, which replaces the
  unit's, keeps the unit's API flags;
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
        "unit": os.path.join(root, "deploy", "systemd", "trunkrouted.service"),
        "unit_dropin": os.path.join(root, "deploy", "systemd", "trunkrouted.service.d",
                                    "etcd.conf.example"),
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


LOOPBACK = ("127.0.0.1", "::1", "localhost")
# Flags naming files trunkrouted reads as secrets (common/secret_file.cc's rule applies).
SECRET_FILE_FLAGS = ("--api-tls-key", "--api-tls-cert", "--api-tokens-file", "--metrics-token",
                     "--api-token-file")


def mounted_file(pod, container, path):
    """What provides `path` in the container: {"volume", "kind" (secret, configMap, ...),
    "source" (its secretName / name), "key", "mode", "readOnly"}, or None when no volume is
    mounted at the file's directory."""
    if not path:
        return None
    directory, name = os.path.dirname(str(path)), os.path.basename(str(path))
    mount = next((m for m in container.get("volumeMounts", []) if m["mountPath"] == directory),
                 None)
    if not mount:
        return None
    volume = next((v for v in pod["spec"].get("volumes", []) if v["name"] == mount["name"]), {})
    kind = next((k for k in ("secret", "configMap", "projected", "emptyDir",
                             "persistentVolumeClaim") if k in volume), None)
    src = volume.get(kind) or {}
    out = {"volume": mount["name"], "kind": kind, "readOnly": bool(mount.get("readOnly")),
           "source": src.get("secretName", src.get("name")), "key": name,
           "mode": src.get("defaultMode", 0o644), "optional": bool(src.get("optional"))}
    items = src.get("items")
    if items:
        item = next((i for i in items if i.get("path") == name), None)
        if item is None:
            out["key"] = None  # the volume does not provide this file
        else:
            out["key"] = item["key"]
            out["mode"] = item.get("mode", out["mode"])
    return out


def secret_key_of(docs, name, key):
    """True/False when the Secret `name` is in docs (has `key` or not); None when it is created
    outside the manifest."""
    for d in docs:
        if d.get("kind") == "Secret" and d["metadata"]["name"] == name:
            return key in d.get("data", {}) or key in d.get("stringData", {})
    return None


def documented_san(text):
    """Names in the subjectAltName of the documented openssl command, or None if none."""
    m = re.search(r"subjectAltName=([^\"'\s]+)", text)
    if not m:
        return None
    return [n.split(":", 1)[1] for n in m.group(1).split(",") if n.startswith("DNS:")]


def name_matches(name, pattern):
    if pattern.startswith("*."):
        head, _, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return name == pattern


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

    # Probes: the port, the path and the scheme the listener speaks.
    tls = "--api-tls-cert" in args
    grpc_port, http_port = port_of(args.get("--grpc-listen", "")), port_of(args.get("--http-listen", ""))
    for probe_name in ("readinessProbe", "livenessProbe", "startupProbe"):
        probe = c.get(probe_name)
        if not probe:
            if probe_name != "startupProbe":
                problems.append(f"{where}: no {probe_name}")
            continue
        if ("grpc" in probe or "httpGet" in probe) and "--api-tls-client-ca" in args:
            problems.append(f"{where}: {probe_name} cannot pass --api-tls-client-ca: the kubelet "
                            "presents no client certificate")
        if "grpc" in probe:
            port = probe["grpc"].get("port")
            if port != grpc_port:
                problems.append(f"{where}: {probe_name} asks grpc.health.v1 on {port}, "
                                f"--grpc-listen is on {grpc_port}")
            if tls:
                problems.append(f"{where}: {probe_name} is a gRPC probe, which the kubelet sends "
                                "in plaintext, and --api-tls-cert makes the gRPC listener TLS only")
        elif "httpGet" in probe:
            port = probe["httpGet"].get("port")
            port = by_name[port]["containerPort"] if port in by_name else port
            if port != http_port or probe["httpGet"].get("path") != "/healthz":
                problems.append(f"{where}: {probe_name} httpGet {port}"
                                f"{probe['httpGet'].get('path')} is not /healthz on the HTTP "
                                f"listener ({http_port})")
            scheme = probe["httpGet"].get("scheme", "HTTP")
            if scheme != ("HTTPS" if tls else "HTTP"):
                problems.append(f"{where}: {probe_name} uses scheme {scheme}, the HTTP listener "
                                f"speaks {'HTTPS (--api-tls-cert)' if tls else 'HTTP'}")
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
    return problems


def check_api_security(path, docs, text, workload):
    """TLS and tokens of the API listeners, the secret files' volumes and modes, and what
    trunkroutectl in the pod needs."""
    w, pod, c, args = workload
    where = f"{path}: container trunkrouted"
    problems = []
    env = {e["name"]: e for e in c.get("env", [])}
    tls = "--api-tls-cert" in args
    for flag in ("--grpc-listen", "--http-listen"):
        host = host_of(args.get(flag, "127.0.0.1:0"))
        if host in LOOPBACK:
            continue
        if not tls:
            problems.append(f"{where}: {flag}={args[flag]} reaches beyond loopback without "
                            "--api-tls-cert: tokens and config would cross the network in clear")
        if "--api-tokens-file" not in args:
            problems.append(f"{where}: {flag}={args[flag]} reaches beyond loopback without "
                            "--api-tokens-file (scoped tokens)")
    if tls != ("--api-tls-key" in args):
        problems.append(f"{where}: --api-tls-cert and --api-tls-key go together")
    if "--api-token-file" in args:
        problems.append(f"{where}: --api-token-file gives one token every scope; give each client "
                        "its own token with the scopes it needs in --api-tokens-file")

    # Secret files: a read-only Secret volume providing the key, modes secret_file.cc accepts.
    psc, csc = pod["spec"].get("securityContext", {}), c.get("securityContext", {})
    run_as = csc.get("runAsUser", psc.get("runAsUser"))
    for flag in SECRET_FILE_FLAGS + ("--api-tls-client-ca",):
        if flag not in args:
            continue
        f = mounted_file(pod, c, args[flag])
        if not f or f["kind"] != "secret":
            problems.append(f"{where}: {flag}={args[flag]} is not in a mounted Secret")
            continue
        if not f["readOnly"]:
            problems.append(f"{where}: {flag}: volume {f['volume']} is not mounted read-only")
        if f["key"] is None:
            problems.append(f"{where}: {flag}: volume {f['volume']} does not provide "
                            f"{os.path.basename(args[flag])} (its items)")
        elif secret_key_of(docs, f["source"], f["key"]) is False:
            problems.append(f"{where}: {flag}: Secret {f['source']} has no key {f['key']}")
        if f["optional"]:
            problems.append(f"{where}: {flag}: Secret {f['source']} is optional; trunkrouted "
                            "cannot start without it")
        if flag == "--api-tls-client-ca":
            continue
        # The kubelet writes Secret files owned by root, group fsGroup, mode | 0440 (read-only
        # volume): trunkrouted accepts a root-owned secret file of at most 0640.
        mode = f["mode"] | (0o440 if psc.get("fsGroup") is not None else 0)
        if mode & 0o037:
            problems.append(f"{where}: {flag}: volume {f['volume']} gives mode {mode:04o}; "
                            "trunkrouted refuses a root-owned secret file beyond 0640 (set "
                            "defaultMode: 0440)")
        if psc.get("fsGroup") is None and run_as != 0:
            problems.append(f"{where}: {flag}: no fsGroup, so the daemon's user cannot read "
                            "the root-owned file")
        if run_as == 0:
            problems.append(f"{where}: runs as root: root would own the 0440 secret files and "
                            "trunkrouted wants 0600 for its own files")

    # trunkroutectl in the pod (kubectl exec): a token, and with TLS the CA and the server name.
    token_flags = [f for f in ("--api-tokens-file", "--api-token-file") if f in args]
    if token_flags:
        token_file = env.get("TRUNKROUTE_TOKEN_FILE", {}).get("value")
        f = mounted_file(pod, c, token_file)
        if not token_file or not f or f["kind"] != "secret":
            problems.append(f"{where}: TRUNKROUTE_TOKEN_FILE ({token_file}) is not in a mounted "
                            "Secret: `kubectl exec ... trunkroutectl` would have no token")
        elif token_file == args.get("--api-tokens-file"):
            problems.append(f"{where}: TRUNKROUTE_TOKEN_FILE is the tokens file, which holds "
                            "hashes, not a token: `kubectl exec ... trunkroutectl` would be refused")
    if tls:
        ca = env.get("TRUNKROUTE_TLS_CA", {}).get("value")
        f = mounted_file(pod, c, ca)
        if not ca or not f or f["kind"] not in ("secret", "configMap") or f["key"] is None:
            problems.append(f"{where}: TRUNKROUTE_TLS_CA ({ca}) is not a mounted file: "
                            "`kubectl exec ... trunkroutectl` would speak plaintext to a TLS "
                            "listener")
        name = env.get("TRUNKROUTE_TLS_SERVER_NAME", {}).get("value")
        sans = documented_san(text)
        if not name and "TRUNKROUTE_SERVER" not in env:
            problems.append(f"{where}: no TRUNKROUTE_TLS_SERVER_NAME: trunkroutectl in the pod "
                            "asks 127.0.0.1, which the certificate does not name")
        elif name and sans is not None and not any(name_matches(name, s) for s in sans):
            problems.append(f"{where}: TRUNKROUTE_TLS_SERVER_NAME {name} is not in the "
                            f"documented certificate's subjectAltName {sans}")
    return problems


def metrics_token_secret(workload):
    """(Secret name, key) the pod reads --metrics-token from, or None."""
    w, pod, c, args = workload
    f = mounted_file(pod, c, args.get("--metrics-token"))
    return (f["source"], f["key"]) if f and f["kind"] == "secret" else None


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

def check_endpoint_security(where, ep, workload, text):
    """A ServiceMonitor endpoint's scheme, TLS verification and metrics token."""
    w, pod, c, args = workload
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    tls = "--api-tls-cert" in args
    problems = []
    scheme = ep.get("scheme", "http")
    if scheme != ("https" if tls else "http"):
        problems.append(f"{where}: endpoint scheme {scheme}, the metrics listener speaks "
                        f"{'https (--api-tls-cert)' if tls else 'http'}")
    if tls:
        tc = ep.get("tlsConfig", {})
        if tc.get("insecureSkipVerify"):
            problems.append(f"{where}: tlsConfig.insecureSkipVerify: the certificate is not checked")
        if not (tc.get("ca", {}).get("secret") or tc.get("ca", {}).get("configMap") or
                tc.get("caFile")):
            problems.append(f"{where}: tlsConfig has no CA to verify the API's certificate with")
        problems += server_name_problems(where, "tlsConfig.serverName", tc.get("serverName"),
                                         env, text)
    want = metrics_token_secret(workload)
    auth = ep.get("authorization", {}).get("credentials") or ep.get("bearerTokenSecret")
    if want and (not auth or (auth.get("name"), auth.get("key")) != want):
        problems.append(f"{where}: /metrics needs --metrics-token (Secret {want[0]} key "
                        f"{want[1]}); the endpoint sends {auth or 'no token'}")
    return problems


def server_name_problems(where, field, name, env, text):
    """A scrape config's TLS server name must be one the certificate carries (pods are scraped
    by IP, which it does not)."""
    expected = env.get("TRUNKROUTE_TLS_SERVER_NAME")
    sans = documented_san(text)
    if not name:
        return [f"{where}: no {field}: pods are scraped by IP, which the certificate does not name"]
    if sans is not None and not any(name_matches(name, s) for s in sans):
        return [f"{where}: {field} {name} is not in the documented certificate's "
                f"subjectAltName {sans}"]
    if expected and sans is None and name != expected:
        return [f"{where}: {field} {name} is not TRUNKROUTE_TLS_SERVER_NAME ({expected})"]
    return []


def check_scraping(p, docs, workload, text=""):
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
                problems += check_endpoint_security(where, ep, workload, text)
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
            problems += check_scrape_job_security(where, sc, workload, text)
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


def check_scrape_job_security(where, sc, workload, text):
    """A plain Prometheus scrape job's scheme, TLS verification and metrics token."""
    w, pod, c, args = workload
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    tls = "--api-tls-cert" in args
    problems = []
    scheme = sc.get("scheme", "http")
    if scheme != ("https" if tls else "http"):
        problems.append(f"{where}: scheme {scheme}, the metrics listener speaks "
                        f"{'https (--api-tls-cert)' if tls else 'http'}")
    if tls:
        tc = sc.get("tls_config", {})
        if tc.get("insecure_skip_verify"):
            problems.append(f"{where}: tls_config.insecure_skip_verify: the certificate is not "
                            "checked")
        if not tc.get("ca_file") and not tc.get("ca"):
            problems.append(f"{where}: tls_config has no ca_file to verify the API's certificate")
        problems += server_name_problems(where, "tls_config.server_name", tc.get("server_name"),
                                         env, text)
    auth = sc.get("authorization", {})
    if metrics_token_secret(workload) and not (auth.get("credentials_file") or
                                               auth.get("credentials")):
        problems.append(f"{where}: /metrics needs --metrics-token; the job sends no "
                        "authorization credentials")
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


# ---- the systemd unit -----------------------------------------------------------------------

def read_unit(path):
    """(LoadCredential ids, Environment {name: value}, trunkrouted's args of the last ExecStart)."""
    text = open(path, encoding="utf-8").read().replace("\\\n", " ")
    creds = set(re.findall(r"^LoadCredential=([^:\s]+):", text, re.M))
    env = dict(re.findall(r"^Environment=([A-Za-z_]\w*)=(\S*)", text, re.M))
    starts = [s for s in re.findall(r"^ExecStart=(.*)$", text, re.M) if s.strip()]
    args = None
    if starts:
        m = re.search(r"\btrunkrouted\s+(.*)$", starts[-1])
        words = [w.strip("'\"") for w in (m.group(1).split() if m else [])]
        args = parse_args([w for w in words if w])
    return creds, env, args


def check_systemd(unit, dropin):
    problems = []
    creds, env, unit_args = read_unit(unit)
    files = [(unit, unit_args, creds)]
    if os.path.exists(dropin):
        d_creds, d_env, d_args = read_unit(dropin)
        env.update(d_env)
        files.append((dropin, d_args, creds | d_creds))
    for path, args, known in files:
        if args is None:
            problems.append(f"{path}: no ExecStart running trunkrouted")
            continue
        for flag in ("--grpc-listen", "--http-listen"):
            value = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), m.group(0)),
                           str(args.get(flag, "127.0.0.1:0")))
            if host_of(value) in LOOPBACK:
                continue
            for need in ("--api-tls-cert", "--api-tls-key", "--api-tokens-file"):
                if need not in args:
                    problems.append(f"{path}: {flag} {value} reaches beyond loopback without {need}")
        if "--api-token-file" in args:
            problems.append(f"{path}: --api-token-file gives one token every scope; use "
                            "--api-tokens-file")
        for flag in SECRET_FILE_FLAGS + ("--api-tls-client-ca", "--bootstrap-config"):
            if flag not in args:
                continue
            m = re.fullmatch(r"\$\{?CREDENTIALS_DIRECTORY\}?/(\S+)", str(args[flag]))
            if not m:
                problems.append(f"{path}: {flag} {args[flag]} is not a credential: the dynamic "
                                "user cannot read it (use ${CREDENTIALS_DIRECTORY}/NAME)")
            elif m.group(1) not in known:
                problems.append(f"{path}: {flag}: {m.group(1)} is not a LoadCredential= of the "
                                "unit")
        if path != unit and unit_args is not None:
            for flag in sorted(f for f in SECRET_FILE_FLAGS + ("--api-tls-client-ca",)
                               if f in unit_args and f not in args):
                problems.append(f"{path}: its ExecStart replaces the unit's and drops {flag}")
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
        problems += check_api_security(p["manifest"], docs, text, workload)
        problems += check_scraping(p, docs, workload, text)
    problems += check_containerfile(p["containerfile"])
    problems += check_systemd(p["unit"], p["unit_dropin"])
    return problems
