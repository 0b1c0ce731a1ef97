#!/usr/bin/env python3
"""The Genesys data action end to end over HTTPS, with real clients only.

    genesys_https_e2e.py TRUNKROUTED TRUNKROUTECTL REPO_ROOT

1. Makes a CA and a server certificate for 127.0.0.1 with the openssl command line, a tokens
   file (mode 0600) with a `route` token for Genesys and an ops token, and a config whose route
   offers three trunks.
2. Starts trunkrouted with --api-tls-cert/--api-tls-key/--api-tokens-file (ports chosen by the
   kernel, read from its start-up line).
3. Does what Genesys Cloud does with deploy/genesys/route-call-data-action.json: renders the
   request template from the action's inputs, sends it with `curl --cacert` to the action's URL
   (its host replaced by the test server) with the action's headers and the credential, and
   plays the translation map and success template over the answer; the result must satisfy the
   output contract and carry all three candidates with their setup_timeout_ms.
4. Checks that the same token cannot change anything: a config write and an admin change over
   gRPC (trunkroutectl --tls-ca) are PERMISSION_DENIED and the config version does not move; and
   that plain HTTP to the HTTPS port fails at once instead of hanging.
Standard library only (plus the curl, openssl and trunkroute binaries).
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_genesys_action as action_check  # noqa: E402

ROUTE_TOKEN = "genesys-" + "7f3c9a1e5b2d48c6a0e4f1b3d5c7e9a2"
OPS_TOKEN = "ops-" + "c4e6a8b0d2f4e6a8b0c2d4e6f8a0b2c4"
FAILURES = []


def fail(message):
    FAILURES.append(message)
    print("FAIL:", message, file=sys.stderr)


def run(args, **kw):
    kw.setdefault("timeout", 30)
    return subprocess.run(args, capture_output=True, text=True, **kw)


def make_pki(tmp):
    ca_key, ca = os.path.join(tmp, "ca.key"), os.path.join(tmp, "ca.pem")
    key, cert = os.path.join(tmp, "server.key"), os.path.join(tmp, "server.pem")
    for args in (
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=e2e test CA"],
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
             "-CA", ca, "-CAkey", ca_key, "-set_serial", "4242",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-addext", "extendedKeyUsage=serverAuth"]):
        r = run(args)
        if r.returncode != 0:
            raise SystemExit(f"openssl failed: {' '.join(args)}\n{r.stderr}")
    os.chmod(key, 0o600)
    return ca, cert, key


def token_line(name, scopes, token):
    import hashlib
    return f"{name} {scopes} sha256:{hashlib.sha256(token.encode()).hexdigest()}\n"


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    trunkrouted, trunkroutectl, root = argv[1:]
    action, proto, _ = action_check.load(root)
    with tempfile.TemporaryDirectory(prefix="trunkroute-genesys-e2e-") as tmp:
        ca, cert, key = make_pki(tmp)
        tokens = os.path.join(tmp, "tokens")
        with open(tokens, "w", encoding="utf-8") as f:
            f.write("# the data action may only route\n")
            f.write(token_line("genesys-prod", "route", ROUTE_TOKEN))
            f.write(token_line("ops", "read,write,admin", OPS_TOKEN))
        os.chmod(tokens, 0o600)
        bootstrap = os.path.join(tmp, "bootstrap.json")
        with open(bootstrap, "w", encoding="utf-8") as f:
            json.dump({
                "trunks": [
                    {"id": "carrier-a", "host": "sbc.a.example.net", "port": 5061,
                     "transport": "TRANSPORT_TLS"},
                    {"id": "carrier-b", "host": "sbc.b.example.net", "port": 5061,
                     "transport": "TRANSPORT_TLS"},
                    {"id": "carrier-c", "host": "192.0.2.30", "port": 5060,
                     "transport": "TRANSPORT_UDP"}],
                "routes": [{"id": "nanp", "priority": 10, "pattern": "\\+1\\d{10}",
                            "trunk_ids": ["carrier-a", "carrier-b", "carrier-c"]}],
                "failover_policy": {"setup_timeout_ms": 1500}}, f)
        log_path = os.path.join(tmp, "trunkrouted.log")
        log = open(log_path, "w", encoding="utf-8")
        daemon = subprocess.Popen(
            [trunkrouted, "--data-dir", os.path.join(tmp, "data"), "--no-sip",
             "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
             "--bootstrap-config", bootstrap, "--api-tls-cert", cert, "--api-tls-key", key,
             "--api-tokens-file", tokens],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        try:
            grpc_addr = http_addr = None
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and daemon.poll() is None:
                m = re.search(r"trunkrouted serving\"? grpc=(\S+) http=(\S+)",
                              open(log_path, encoding="utf-8").read())
                if m:
                    grpc_addr, http_addr = m.group(1), m.group(2)
                    break
                time.sleep(0.05)
            if not grpc_addr:
                raise SystemExit("trunkrouted did not start:\n" + open(log_path).read())
            check_data_action(action, ca, http_addr)
            check_token_cannot_change_config(trunkroutectl, ca, grpc_addr)
            check_plain_http_fails_fast(http_addr)
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                code = daemon.wait(timeout=15)
            except subprocess.TimeoutExpired:
                daemon.kill()
                code = "killed"
            log.close()
            text = open(log_path, encoding="utf-8").read()
            if code != 0:
                fail(f"trunkrouted exited {code}:\n{text}")
            for secret in (ROUTE_TOKEN, OPS_TOKEN):
                if secret in text:
                    fail("a token appears in trunkrouted's log")
    if FAILURES:
        return 1
    print("OK: the Genesys data action routes over HTTPS with a route-scoped token, gets every "
          "candidate with its setup timeout, and that token cannot change config")
    return 0


def check_data_action(action, ca, http_addr):
    request = action["config"]["request"]
    url = re.sub(r"^https://[^/]+", "https://" + http_addr, request["requestUrlTemplate"])
    inputs = {"dialedNumber": "+1 (555) 123-4567", "callerId": "+15557654321",
              "callId": "conv-e2e-1"}
    body = action_check.render_request(request["requestTemplate"], inputs)
    args = ["curl", "-sS", "--max-time", "10", "--cacert", ca, "-X", request["requestType"],
            "-w", "\n%{http_code}", "--data-binary", body]
    for name, value in request["headers"].items():
        args += ["-H", f"{name}: {value.replace('${credentials.token}', ROUTE_TOKEN)}"]
    r = run(args + [url])
    if r.returncode != 0:
        fail(f"curl --cacert {url}: exit {r.returncode}: {r.stderr}")
        return
    payload, _, status = r.stdout.rpartition("\n")
    if status != "200":
        fail(f"POST {url}: HTTP {status}: {payload}")
        return
    response = json.loads(payload)
    result = action_check.resolve(action, response)
    schema = action["contract"]["output"]["successSchema"]
    for problem in action_check.check_schema_instance(schema, result, "live response"):
        fail(problem)
    if result.get("candidateTrunkIds") != ["carrier-a", "carrier-b", "carrier-c"]:
        fail(f"candidateTrunkIds {result.get('candidateTrunkIds')!r}: expected all three trunks")
    if result.get("candidateSetupTimeoutsMs") != [1500, 1500, 1500]:
        fail(f"candidateSetupTimeoutsMs {result.get('candidateSetupTimeoutsMs')!r}")
    if result.get("candidateCount") != 3 or result.get("primarySetupTimeoutMs") != 1500:
        fail(f"output {result!r}")
    if not all(u.startswith("sip:+15551234567@") for u in result.get("candidateSipUris", [])):
        fail(f"candidateSipUris {result.get('candidateSipUris')!r}")
    # Without the CA the server is not trusted (a real client verifies).
    r = run(["curl", "-sS", "--max-time", "10", "-o", "/dev/null", url])
    if r.returncode != 60:
        fail(f"curl without --cacert: exit {r.returncode}, expected 60 (untrusted certificate)")


def ctl(trunkroutectl, ca, grpc_addr, token, *args):
    env = dict(os.environ, TRUNKROUTE_TOKEN=token)
    return run([trunkroutectl, "--server", grpc_addr, "--tls-ca", ca, *args], env=env)


def check_token_cannot_change_config(trunkroutectl, ca, grpc_addr):
    before = ctl(trunkroutectl, ca, grpc_addr, OPS_TOKEN, "config", "export")
    if before.returncode != 0:
        fail(f"trunkroutectl config export (ops token): {before.stderr}")
        return
    version = json.loads(before.stdout).get("version")
    if not version:
        fail(f"config export has no version: {before.stdout[:200]}")
    # The route token routes over gRPC too...
    r = ctl(trunkroutectl, ca, grpc_addr, ROUTE_TOKEN, "route", "call", "+15551234567")
    if r.returncode != 0:
        fail(f"trunkroutectl route call with the route token: exit {r.returncode}: {r.stderr}")
    # ...and changes nothing.
    for args, scope in ((["policy", "set", "--setup-timeout-ms", "900"], "write"),
                        (["trunk", "drain", "carrier-a"], "admin")):
        r = ctl(trunkroutectl, ca, grpc_addr, ROUTE_TOKEN, *args)
        if r.returncode != 1 or "PERMISSION_DENIED" not in r.stderr or \
                f"lacks scope '{scope}'" not in r.stderr:
            fail(f"trunkroutectl {' '.join(args)} with the route token: exit {r.returncode}, "
                 f"{r.stderr.strip()!r}; expected PERMISSION_DENIED naming scope '{scope}'")
    after = ctl(trunkroutectl, ca, grpc_addr, OPS_TOKEN, "config", "export")
    if after.returncode != 0 or json.loads(after.stdout).get("version") != version:
        fail("the config changed after writes with the route token")


def check_plain_http_fails_fast(http_addr):
    start = time.monotonic()
    r = run(["curl", "-sS", "--max-time", "10", "-o", "/dev/null",
             f"http://{http_addr}/v1/route"])
    if r.returncode not in (52, 56) or time.monotonic() - start > 5:
        fail(f"plain HTTP to the HTTPS port: curl exit {r.returncode} after "
             f"{time.monotonic() - start:.1f} s; expected an immediate empty reply (52/56)")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
