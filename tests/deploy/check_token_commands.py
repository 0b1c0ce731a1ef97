#!/usr/bin/env python3
"""The Kubernetes manifest's API security works as written, with real binaries.

    check_token_commands.py REPO_ROOT TRUNKROUTED TRUNKROUTECTL

1. Runs the "Before applying" steps of deploy/kubernetes/trunkroute.yaml that make the API's
   certificate (step 3, openssl) and its tokens (step 4), as written, with bash in an empty
   directory; `kubectl create secret generic NAME --from-file=[KEY=]FILE` is played by a shell
   function that stores each key as a file (mode 0400) under secrets/NAME/, which is what the
   pod's Secret volumes show trunkrouted.
2. Starts the real trunkrouted with the manifest's API flags (--api-tls-cert, --api-tls-key,
   --api-tokens-file, --metrics-token, ...), each path moved from its mount to the Secret's
   stored key through the manifest's volumeMounts and volumes (ports picked by the kernel, no
   SIP edge).
3. Runs, with the real trunkroutectl and in the environment the manifest gives the container
   (TRUNKROUTE_TOKEN_FILE, TRUNKROUTE_TLS_CA, TRUNKROUTE_TLS_SERVER_NAME, paths moved the same
   way): every `kubectl ... exec ... -- trunkroutectl ...` line of deploy/kubernetes/ and docs/
   (`-f -` gets the trunk document the manifest's comment describes), and the container's
   HEALTHCHECK command: exit 0.
4. Plays the kubelet's readiness and liveness probes as the manifest writes them (scheme, port,
   path; HTTPS without verifying the certificate, as the kubelet does, no token): 200.
5. Scrapes /metrics as the ServiceMonitor and the plain scrape config say: the CA from the
   Secret they name, their server name, the metrics token: 200 with trunkroute_ series.
Controls, so the test can fail: the exec commands without the token (UNAUTHENTICATED) and
without the CA (no TLS: fails); the HEALTHCHECK's `ping` replaced by `info` without a token
(UNAUTHENTICATED); the probe in plain HTTP (fails); /metrics without the token (401); the
Genesys token (route scope) asking to list trunks (PERMISSION_DENIED); the tokens never appear
in the log.
Needs PyYAML (python3-yaml), openssl, bash.
"""

import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_manifests  # noqa: E402

import yaml  # noqa: E402,F401  (deploy_manifests needs it; fail here, not later)

# Plays `kubectl -n NS create secret generic NAME [--type=T] --from-file=[KEY=]FILE ...`:
# each key becomes secrets/NAME/KEY, mode 0400 (owner-only: this test runs trunkrouted as the
# files' owner; in the pod they are root-owned 0440 with the group fsGroup, which
# deploy_manifests.py checks). Anything else is an error, so that a documented step that needs
# more than this cannot pass by accident.
FAKE_KUBECTL = r'''
kubectl() {
  local name="" a key file
  local -a files=()
  while [ $# -gt 0 ]; do
    a=$1; shift
    case $a in
      -n) shift ;;
      create|secret|generic) ;;
      --type=*) ;;
      --from-file=*) files+=("${a#--from-file=}") ;;
      -*) echo "fake kubectl: unsupported option $a" >&2; return 2 ;;
      *) [ -z "$name" ] || { echo "fake kubectl: unexpected $a" >&2; return 2; }; name=$a ;;
    esac
  done
  [ -n "$name" ] && [ ${#files[@]} -gt 0 ] || { echo "fake kubectl: nothing to create" >&2; return 2; }
  mkdir -p "$SECRETS/$name"
  for a in "${files[@]}"; do
    case $a in *=*) key=${a%%=*}; file=${a#*=} ;; *) key=$(basename "$a"); file=$a ;; esac
    [ -f "$file" ] || { echo "fake kubectl: $file: no such file" >&2; return 2; }
    install -m 0400 "$file" "$SECRETS/$name/$key"
  done
}
set -euo pipefail
'''


def fail(message, *logs):
    print(f"FAIL: {message}", file=sys.stderr)
    for log in logs:
        if log and os.path.exists(log):
            print(f"--- {log}\n{open(log, encoding='utf-8', errors='replace').read()[-3000:]}",
                  file=sys.stderr)
    sys.exit(1)


def documented_exec_commands(root):
    """[(file, line, trunkroutectl argv, stdin file or None)] of every documented kubectl exec."""
    found = []
    sources = [os.path.join(root, "deploy", "kubernetes", f)
               for f in sorted(os.listdir(os.path.join(root, "deploy", "kubernetes")))]
    sources += [os.path.join(root, "docs", f) for f in sorted(os.listdir(os.path.join(root, "docs")))
                if f.endswith(".md")]
    sources.append(os.path.join(root, "README.md"))
    for path in sources:
        for n, line in enumerate(open(path, encoding="utf-8"), 1):
            m = re.search(r"kubectl\b[^`]*?\bexec\b[^`]*?\s--\s+(trunkroutectl\b[^`<|]*)(<\s*(\S+))?",
                          line)
            if m:
                argv = m.group(1).split()
                found.append((path, n, argv, m.group(3)))
    return found


def before_applying_steps(text):
    """{step number: [shell command]} from the manifest's "Before applying" comment: the lines
    indented as commands (8 spaces after '#'), backslash continuations joined."""
    steps, step, pending = {}, None, ""
    for line in text.splitlines():
        if not line.startswith("#"):
            break  # the header comment ends at the first document
        m = re.match(r"#   (\d+)\. ", line)
        if m:
            step = int(m.group(1))
            continue
        m = re.match(r"#        \s*(\S.*)$", line)
        if m and step is not None:
            pending += m.group(1)
            if pending.endswith("\\"):
                pending = pending[:-1] + " "
            else:
                steps.setdefault(step, []).append(pending)
                pending = ""
    return steps


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    root, daemon, ctl = argv[1:]
    files = deploy_manifests.paths(root)
    text = open(files["manifest"], encoding="utf-8").read()
    docs = deploy_manifests.load_documents(files["manifest"])
    workload = next(d for d in docs if d.get("kind") in deploy_manifests.WORKLOAD_KINDS)
    pod = workload["spec"]["template"]
    container = next(c for c in pod["spec"]["containers"] if c["name"] == "trunkrouted")
    args = deploy_manifests.parse_args(container.get("args", []))
    pod_env = {e["name"]: e.get("value") for e in container.get("env", []) if "value" in e}
    for need in ("TRUNKROUTE_TOKEN_FILE", "TRUNKROUTE_TLS_CA", "TRUNKROUTE_TLS_SERVER_NAME"):
        if need not in pod_env:
            fail(f"{files['manifest']}: the container sets no {need}")
    if "--api-tls-cert" not in args or "--api-tokens-file" not in args:
        fail(f"{files['manifest']}: no --api-tls-cert or --api-tokens-file in the args")

    with tempfile.TemporaryDirectory(prefix="trunkroute-deploy-tls-") as tmp:
        secrets_dir = os.path.join(tmp, "secrets")
        work = os.path.join(tmp, "work")
        os.makedirs(work)

        # 1. The documented steps 3 (certificate) and 4 (tokens).
        steps = before_applying_steps(text)
        commands = steps.get(3, []) + steps.get(4, [])
        if len(steps.get(3, [])) < 3 or len(steps.get(4, [])) < 5:
            fail(f"{files['manifest']}: steps 3 and 4 of 'Before applying' have "
                 f"{len(steps.get(3, []))} and {len(steps.get(4, []))} commands; expected the "
                 "openssl + kubectl and the token commands")
        script = (FAKE_KUBECTL + "\n".join(commands) +
                  '\nprintf "%s\\n%s\\n%s\\n" "$GENESYS" "$OPS" "$METRICS" > "$OUT"\n')
        r = subprocess.run(["bash", "-c", script], cwd=work, capture_output=True, text=True,
                           timeout=60, env=dict(os.environ, SECRETS=secrets_dir,
                                                OUT=os.path.join(tmp, "tokens.out")))
        if r.returncode != 0:
            fail(f"the manifest's 'Before applying' steps 3 and 4 fail (exit {r.returncode}):\n"
                 f"{chr(10).join(commands)}\n{r.stdout}{r.stderr}")
        genesys_token, ops_token, metrics_token = open(os.path.join(tmp, "tokens.out")).read().split()

        def stored(path):
            """The file the pod sees at `path`, as the fake kubectl stored it."""
            f = deploy_manifests.mounted_file(pod, container, path)
            if not f or f["kind"] != "secret" or not f["key"]:
                fail(f"{files['manifest']}: {path} is not a key of a mounted Secret")
            local = os.path.join(secrets_dir, f["source"], f["key"])
            if not os.path.exists(local) and not f["optional"]:
                fail(f"{files['manifest']}: {path} is Secret {f['source']} key {f['key']}, which "
                     "the 'Before applying' steps do not create")
            return local

        # 2. trunkrouted with the manifest's API flags.
        api_flags = []
        for flag in deploy_manifests.SECRET_FILE_FLAGS + ("--api-tls-client-ca",):
            if flag in args:
                api_flags += [flag, stored(args[flag])]
        log = os.path.join(tmp, "trunkrouted.log")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("TRUNKROUTE_")}  # no token leaks in from the test runner
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [daemon, "--data-dir", os.path.join(tmp, "data"), "--grpc-listen",
                 "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--no-sip"] + api_flags,
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            address = http_address = None
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and address is None:
                m = re.search(r'"trunkrouted serving" grpc=(\S+) http=(\S+)', open(log).read())
                if m:
                    address, http_address = m.group(1), m.group(2)
                elif proc.poll() is not None:
                    fail(f"trunkrouted exited at start with the manifest's API flags {api_flags}",
                         log)
                else:
                    time.sleep(0.1)
            if address is None:
                fail("trunkrouted did not start within 20 s", log)
            started = open(log).read()
            if "api_tls=off" in started or "api_tokens=0" in started:
                fail("trunkrouted does not say TLS and the tokens are on", log)
            base_env = dict(env, TRUNKROUTE_SERVER=address)

            def run(argv_, extra_env, stdin=None):
                r = subprocess.run(argv_, env=dict(base_env, **extra_env), input=stdin,
                                   capture_output=True, text=True, timeout=20)
                return r.returncode, r.stdout + r.stderr

            # 3. trunkroutectl in the pod's environment.
            pod_tls = {"TRUNKROUTE_TLS_CA": stored(pod_env["TRUNKROUTE_TLS_CA"]),
                       "TRUNKROUTE_TLS_SERVER_NAME": pod_env["TRUNKROUTE_TLS_SERVER_NAME"]}
            in_pod = dict(pod_tls, TRUNKROUTE_TOKEN_FILE=stored(pod_env["TRUNKROUTE_TOKEN_FILE"]))

            cf = open(files["containerfile"], encoding="utf-8").read().replace("\\\n", " ")
            hc = json.loads(re.search(r"^HEALTHCHECK\b.*?\bCMD\s+(\[.*\])\s*$", cf, re.M).group(1))
            code, output = run([ctl] + hc[1:], pod_tls)
            if code != 0:
                fail(f"the HEALTHCHECK {hc} fails against the TLS listener with the pod's "
                     f"TRUNKROUTE_TLS_* and no token (exit {code}): {output}")
            code, output = run([ctl] + [a if a != "ping" else "info" for a in hc[1:]], pod_tls)
            if code == 0 or "UNAUTHENTICATED" not in output:
                fail(f"control: `trunkroutectl info` without a token was not refused: {output}")

            commands = documented_exec_commands(root)
            if not commands:
                fail("no documented `kubectl exec ... -- trunkroutectl` command found")
            config = json.loads(next(d for d in docs if d.get("kind") == "ConfigMap")
                                ["data"]["bootstrap.json"])
            creds = next(d for d in docs if d.get("kind") == "Secret" and
                         d["metadata"]["name"] == "trunkroute-credentials")["stringData"]
            carrier_a = dict(next(t for t in config["trunks"] if t["id"] == "carrier-a"),
                             username=creds["carrier-a-username"],
                             password=creds["carrier-a-password"])
            stdin_documents = {"carrier-a.json": json.dumps(carrier_a)}
            no_token = dict(pod_tls)
            no_ca = {k: v for k, v in in_pod.items() if not k.startswith("TRUNKROUTE_TLS_")}
            for path, line, cmd, stdin_name in commands:
                where = f"{os.path.relpath(path, root)}:{line}: {' '.join(cmd)}"
                stdin = stdin_documents.get(os.path.basename(stdin_name)) if stdin_name else None
                if stdin_name and stdin is None:
                    fail(f"{where}: no test document for '< {stdin_name}'")
                code, output = run([ctl] + cmd[1:], in_pod, stdin)
                if code != 0:
                    fail(f"{where}: exit {code} in the pod's environment: {output}")
                code, output = run([ctl] + cmd[1:], no_token, stdin)
                if code == 0 or "UNAUTHENTICATED" not in output:
                    fail(f"{where}: control without the token was not refused: {output}")
                code, output = run([ctl] + cmd[1:], no_ca, stdin)
                if code == 0:
                    fail(f"{where}: control without TRUNKROUTE_TLS_CA succeeded against the TLS "
                         f"listener: {output}")
            genesys_file = os.path.join(tmp, "genesys.token")
            with open(os.open(genesys_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(genesys_token)
            code, output = run([ctl, "trunks", "list"],
                               dict(pod_tls, TRUNKROUTE_TOKEN_FILE=genesys_file))
            if code == 0 or "PERMISSION_DENIED" not in output:
                fail(f"the Genesys token of step 4 may list trunks (it should have the route "
                     f"scope only): {output}")

            # 4. The kubelet's probes, as the manifest writes them.
            http_port = int(http_address.rsplit(":", 1)[1])

            def get(path, scheme, ca=None, server_name=None, token=None):
                """GET over HTTP or HTTPS; HTTPS verifies against `ca` and `server_name`, or,
                without a CA, verifies nothing (as the kubelet's HTTPS probe)."""
                conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
                try:
                    if scheme.lower() == "https":
                        if ca:
                            ctx = ssl.create_default_context(cafile=ca)
                        else:
                            ctx = ssl.create_default_context()
                            ctx.check_hostname = False
                            ctx.verify_mode = ssl.CERT_NONE
                        raw = socket.create_connection(("127.0.0.1", http_port), timeout=10)
                        conn.sock = ctx.wrap_socket(raw, server_hostname=server_name or "127.0.0.1")
                    headers = {"Authorization": f"Bearer {token}"} if token else {}
                    conn.request("GET", path, headers=headers)
                    resp = conn.getresponse()
                    return resp.status, resp.read().decode("utf-8", "replace")
                except (OSError, http.client.HTTPException) as e:
                    return None, str(e)
                finally:
                    conn.close()

            ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
            manifest_http_port = deploy_manifests.port_of(args["--http-listen"])
            for probe_name in ("readinessProbe", "livenessProbe"):
                probe = container.get(probe_name, {}).get("httpGet")
                if not probe:
                    fail(f"{files['manifest']}: {probe_name} is not an httpGet probe")
                if ports.get(probe["port"], probe["port"]) != manifest_http_port:
                    fail(f"{files['manifest']}: {probe_name} is not on --http-listen")
                status, body = get(probe["path"], probe.get("scheme", "HTTP"))
                if status != 200:
                    fail(f"{probe_name} {probe.get('scheme', 'HTTP')} {probe['path']}: {status} "
                         f"{body}", log)
            status, body = get(container["readinessProbe"]["httpGet"]["path"], "http")
            if status == 200:
                fail("control: /healthz in plain HTTP answered 200 from the TLS listener")

            # 5. /metrics as the ServiceMonitor and the scrape config fetch it.
            sm = deploy_manifests.load_documents(files["servicemonitor"])[0]
            ep = sm["spec"]["endpoints"][0]
            ca_ref = ep["tlsConfig"]["ca"]["secret"]
            cred = ep["authorization"]["credentials"]
            sm_ca = os.path.join(secrets_dir, ca_ref["name"], ca_ref["key"])
            sm_token = open(os.path.join(secrets_dir, cred["name"], cred["key"])).read()
            scrape = deploy_manifests.load_documents(files["scrape"])[0]["scrape_configs"][0]
            for where, scheme, name in (
                    ("ServiceMonitor", ep["scheme"], ep["tlsConfig"]["serverName"]),
                    ("scrape config", scrape["scheme"], scrape["tls_config"]["server_name"])):
                status, body = get(ep.get("path", "/metrics"), scheme, sm_ca, name, sm_token)
                if status != 200 or "trunkroute_" not in body:
                    fail(f"/metrics as the {where} fetches it ({scheme}, CA {ca_ref}, server "
                         f"name {name}, token {cred}): {status} {body[:300]}", log)
            status, body = get("/metrics", "https", sm_ca, ep["tlsConfig"]["serverName"])
            if status != 401:
                fail(f"control: /metrics without the metrics token: {status}, expected 401")

            logged = open(log).read()
            for token in (genesys_token, ops_token, metrics_token):
                if token in logged:
                    fail("trunkrouted logged a token", log)
            print(f"OK: the manifest's certificate and token steps, its API flags, the HEALTHCHECK, "
                  f"{len(commands)} documented kubectl exec command(s), the probes and both "
                  "scrape configs work against a real trunkrouted; the controls are refused")
            return 0
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
