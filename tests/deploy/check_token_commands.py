#!/usr/bin/env python3
"""Every documented command works with the API token on (docs/runbook.md, the manifests).

    check_token_commands.py REPO_ROOT TRUNKROUTED TRUNKROUTECTL

Starts the real trunkrouted with --api-token-file (no SIP edge, ports picked by the kernel),
then runs, with the real trunkroutectl:
- the container's HEALTHCHECK command, as deploy/container/Containerfile writes it: exit 0 with
  no token at hand (it must use grpc.health.v1, which stays open);
- every `kubectl ... exec ... -- trunkroutectl ...` line of deploy/kubernetes/ and docs/, in the
  environment the manifest gives the container (TRUNKROUTE_TOKEN_FILE, pointed at the test's
  token file since /var/run/secrets is not here); `-f -` gets the trunk document the manifest's
  comment describes (the ConfigMap's carrier-a plus the credentials Secret): exit 0.
Controls, so the test can fail: the same commands without the token environment, and the old
HEALTHCHECK (`trunkroutectl info`), must be refused with UNAUTHENTICATED.
Needs PyYAML (python3-yaml).
"""

import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_manifests  # noqa: E402

import yaml  # noqa: E402


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


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    root, daemon, ctl = argv[1:]
    files = deploy_manifests.paths(root)
    docs = deploy_manifests.load_documents(files["manifest"])
    workload = next(d for d in docs if d.get("kind") in deploy_manifests.WORKLOAD_KINDS)
    container = next(c for c in workload["spec"]["template"]["spec"]["containers"]
                     if c["name"] == "trunkrouted")
    pod_env = {e["name"]: e.get("value") for e in container.get("env", []) if "value" in e}
    if "TRUNKROUTE_TOKEN_FILE" not in pod_env:
        fail(f"{files['manifest']}: the container sets no TRUNKROUTE_TOKEN_FILE")

    with tempfile.TemporaryDirectory() as tmp:
        token_file = os.path.join(tmp, "api-token")
        with open(os.open(token_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(secrets.token_hex(32) + "\n")
        log = os.path.join(tmp, "trunkrouted.log")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("TRUNKROUTE_")}  # no token leaks in from the test runner
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [daemon, "--data-dir", os.path.join(tmp, "data"), "--grpc-listen",
                 "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--no-sip",
                 "--api-token-file", token_file],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            address = None
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and address is None:
                m = re.search(r'"trunkrouted serving" grpc=(\S+)', open(log).read())
                if m:
                    address = m.group(1)
                elif proc.poll() is not None:
                    fail("trunkrouted exited at start", log)
                else:
                    time.sleep(0.1)
            if address is None:
                fail("trunkrouted did not start within 20 s", log)
            if "api_token=on" not in open(log).read():
                fail("trunkrouted does not say the token is on", log)
            base_env = dict(env, TRUNKROUTE_SERVER=address)

            def run(args, extra_env, stdin=None):
                r = subprocess.run(args, env=dict(base_env, **extra_env), input=stdin,
                                   capture_output=True, text=True, timeout=20)
                return r.returncode, r.stdout + r.stderr

            # The container HEALTHCHECK, with no token anywhere.
            text = open(files["containerfile"], encoding="utf-8").read().replace("\\\n", " ")
            hc = json.loads(re.search(r"^HEALTHCHECK\b.*?\bCMD\s+(\[.*\])\s*$", text, re.M).group(1))
            code, output = run([ctl] + hc[1:], {})
            if code != 0:
                fail(f"the HEALTHCHECK {hc} fails with the API token on (exit {code}): {output}")
            code, output = run([ctl] + [a if a != "ping" else "info" for a in hc[1:]], {})
            if code == 0 or "UNAUTHENTICATED" not in output:
                fail(f"control: `trunkroutectl info` without a token was not refused: {output}")

            # The documented kubectl exec lines, in the pod's environment.
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
            pod = {"TRUNKROUTE_TOKEN_FILE": token_file}
            for path, line, args, stdin_name in commands:
                where = f"{os.path.relpath(path, root)}:{line}: {' '.join(args)}"
                stdin = stdin_documents.get(os.path.basename(stdin_name)) if stdin_name else None
                if stdin_name and stdin is None:
                    fail(f"{where}: no test document for '< {stdin_name}'")
                code, output = run([ctl] + args[1:], pod, stdin)
                if code != 0:
                    fail(f"{where}: exit {code} with the pod's token environment: {output}")
                code, output = run([ctl] + args[1:], {}, stdin)
                if code == 0 or "UNAUTHENTICATED" not in output:
                    fail(f"{where}: control without the token environment was not refused: "
                         f"{output}")
            if token_file and open(token_file).read().strip() in open(log).read():
                fail("trunkrouted logged the token", log)
            print(f"OK: the HEALTHCHECK and {len(commands)} documented kubectl exec command(s) "
                  "work with the API token on, and are refused without it")
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
