#!/usr/bin/env python3
"""Checks deploy/genesys/route-call-data-action.json against trunkroute's API.

    check_genesys_action.py REPO_ROOT              check the shipped data action
    check_genesys_action.py REPO_ROOT --self-test  prove each check catches what it should

What Genesys Cloud would do with the action is played through on trunkroute's side:
- the request template is rendered (the Velocity forms the file uses: $esc.jsonString(...) and
  its quiet form $!esc.jsonString(...)) for full and minimal inputs, including characters that
  need escaping, and the body must be JSON whose fields are all RouteCallRequest fields in the
  protobuf JSON mapping (the server rejects unknown fields);
- the translation map's JSONPaths are evaluated on RouteCallResponse bodies captured from the
  real HTTP face (testdata/route_call_*.json), with the defaults where a path finds nothing, the
  success template is filled in, and the result must be JSON that satisfies the output contract;
- the output carries every candidate the route offers (not only two), in order, each with its
  trunk id, Request-URI and setup_timeout_ms (candidateTrunkIds, candidateSipUris,
  candidateSetupTimeoutsMs), plus the first two as flat fields;
- every field a path names must exist in proto/trunkroute/v1/routing.proto.
Standard library only.
"""

import copy
import glob
import json
import os
import re
import sys

SAMPLE_INPUTS = [
    {"dialedNumber": "+1 (555) 123-4567", "callerId": "+15557654321",
     "ingressTrunkId": "genesys-byoc", "callId": 'conv-"42"\\x'},
    {"dialedNumber": "+15551234567"},
]


# ---- the API as the proto defines it ----------------------------------------------------

def json_name(field):
    head, *rest = field.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def proto_messages(proto_path):
    """{message: {json field name: (type, repeated)}} for the messages of one .proto file."""
    text = re.sub(r"//[^\n]*", "", open(proto_path, encoding="utf-8").read())
    messages = {}
    for m in re.finditer(r"message\s+(\w+)\s*\{([^{}]*)\}", text):
        fields = {}
        for f in re.finditer(r"(repeated\s+|optional\s+)?([\w.]+)\s+(\w+)\s*=\s*\d+\s*;",
                             m.group(2)):
            fields[json_name(f.group(3))] = (f.group(2), bool(f.group(1) and
                                                              f.group(1).strip() == "repeated"))
        messages[m.group(1)] = fields
    return messages


# ---- Velocity, the part the request template uses ---------------------------------------

def render_request(template, inputs):
    """Renders $esc.jsonString(${input.x}) and $!esc.jsonString($input.x); anything else with a
    '$' left over means Genesys would send the template text itself."""
    def esc(match):
        quiet, name = match.group(1) == "!", match.group(2) or match.group(3)
        if name not in inputs:
            return "" if quiet else match.group(0)
        return json.dumps(inputs[name])[1:-1]

    out = re.sub(r"\$(!?)esc\.jsonString\((?:\$\{input\.(\w+)\}|\$input\.(\w+))\)", esc, template)
    return out


def referenced_inputs(template):
    refs = {}
    for m in re.finditer(r"\$(!?)esc\.jsonString\((?:\$\{input\.(\w+)\}|\$input\.(\w+))\)",
                         template):
        refs[m.group(2) or m.group(3)] = m.group(1) == "!"
    return refs


# ---- JSONPath, the part the translation map uses ----------------------------------------

_MISSING = object()


def jsonpath(path, doc):
    """$.a.b[0].c, $.a[*].c (a list, as Genesys returns it) and a trailing .size()/.length();
    _MISSING when it finds nothing."""
    if not path.startswith("$"):
        raise ValueError(f"JSONPath must start with $: {path}")
    tokens = re.findall(r"\.(\w+)\(\)|\.(\w+)|\[(\d+|\*)\]", path[1:])
    if "".join(re.findall(r"\.\w+\(\)|\.\w+|\[(?:\d+|\*)\]", path[1:])) != path[1:]:
        raise ValueError(f"unsupported JSONPath: {path}")
    return _walk(tokens, doc)


def _walk(tokens, value):
    for n, (func, key, index) in enumerate(tokens):
        if func:
            if func not in ("size", "length") or not isinstance(value, list):
                return _MISSING
            value = len(value)
        elif key:
            if not isinstance(value, dict) or key not in value:
                return _MISSING
            value = value[key]
        elif index == "*":
            if not isinstance(value, list):
                return _MISSING
            items = [_walk(tokens[n + 1:], item) for item in value]
            return [item for item in items if item is not _MISSING]
        else:
            i = int(index)
            if not isinstance(value, list) or i >= len(value):
                return _MISSING
            value = value[i]
    return value


def path_fields(path):
    """[(field, indexed)] along a path: which message fields it walks through."""
    walk = re.sub(r"\.\w+\(\)$", "", path[1:])  # a trailing .size()/.length() is no field
    return [(k, bool(i)) for _, k, i in re.findall(r"(\.(\w+)(?:\[(\d+|\*)\])?)", walk)]


def resolve(action, response):
    cfg = action["config"]["response"]
    values = {}
    for name, path in cfg["translationMap"].items():
        value = jsonpath(path, response)
        if value is _MISSING:
            default = cfg.get("translationMapDefaults", {}).get(name)
            if default is None:
                raise ValueError(f"translationMap.{name}: {path} finds nothing and has no default")
            values[name] = default  # defaults are JSON text
        else:
            values[name] = json.dumps(value)
    body = cfg["successTemplate"]
    for name, text in values.items():
        body = body.replace("${" + name + "}", text)
    if "${" in body:
        raise ValueError(f"successTemplate uses a variable the translation map lacks: {body}")
    return json.loads(body)


def check_schema_instance(schema, doc, where):
    problems = []
    types = {"string": str, "boolean": bool, "integer": int, "number": (int, float),
             "object": dict, "array": list}
    if not isinstance(doc, dict):
        return [f"{where}: result is not an object"]
    for name in schema.get("required", []):
        if name not in doc:
            problems.append(f"{where}: required output '{name}' missing")
    def fits(spec, value):
        want = types[spec["type"]]
        ok = isinstance(value, want) and not (spec["type"] in ("integer", "number")
                                              and isinstance(value, bool))
        if ok and spec["type"] == "array":
            ok = all(fits(spec.get("items", {"type": "string"}), v) for v in value)
        return ok

    for name, spec in schema.get("properties", {}).items():
        if name in doc and not fits(spec, doc[name]):
            item = f" of {spec['items']['type']}" if spec["type"] == "array" else ""
            problems.append(f"{where}: output '{name}' = {doc[name]!r} is not {spec['type']}{item}")
    return problems


# ---- the checks -------------------------------------------------------------------------

def check_action(action, proto, samples):
    problems = []
    for key in ("name", "integrationType", "actionType", "config", "contract"):
        if key not in action:
            problems.append(f"top level: '{key}' missing")
    if problems:
        return problems
    if action["integrationType"] != "custom-rest-actions":
        problems.append("integrationType must be custom-rest-actions (Web Services Data Actions)")
    if action["actionType"] != "custom":
        problems.append("actionType must be custom")
    request = action["config"]["request"]
    if request.get("requestType") != "POST":
        problems.append("requestType must be POST (POST /v1/route)")
    if not re.fullmatch(r"https://[^/\s]+/v1/route", request.get("requestUrlTemplate", "")):
        problems.append("requestUrlTemplate must be https://<host>/v1/route")
    auth = request.get("headers", {}).get("Authorization", "")
    if not re.fullmatch(r"Bearer \$\{credentials\.\w+\}", auth):
        problems.append("headers.Authorization must be 'Bearer ${credentials.<field>}'")
    if request.get("headers", {}).get("Content-Type") != "application/json":
        problems.append("headers.Content-Type must be application/json")

    input_schema = action["contract"]["input"]["inputSchema"]
    output_schema = action["contract"]["output"]["successSchema"]
    refs = referenced_inputs(request.get("requestTemplate", ""))
    declared = set(input_schema.get("properties", {}))
    required = set(input_schema.get("required", []))
    if set(refs) != declared:
        problems.append(f"inputs used in requestTemplate {sorted(refs)} differ from the input "
                        f"contract {sorted(declared)}")
    for name, quiet in refs.items():
        if not quiet and name not in required:
            problems.append(f"input '{name}' is optional but rendered without $! (Genesys would "
                            "send the template text when it is absent)")
    request_fields = proto["RouteCallRequest"]
    for inputs in SAMPLE_INPUTS:
        body = render_request(request.get("requestTemplate", ""), inputs)
        try:
            doc = json.loads(body)
        except ValueError as e:
            problems.append(f"requestTemplate with inputs {sorted(inputs)} is not JSON ({e}): "
                            f"{body}")
            continue
        for field, value in doc.items():
            if field not in request_fields:
                problems.append(f"requestTemplate sends '{field}', not a RouteCallRequest field "
                                "(the server rejects unknown fields)")
        for name, value in inputs.items():
            if value not in doc.values():
                problems.append(f"requestTemplate loses input '{name}' = {value!r}")

    tmap = action["config"]["response"].get("translationMap", {})
    for name, path in tmap.items():
        message = "RouteCallResponse"
        for field, indexed in path_fields(path):
            fields = proto.get(message, {})
            if field not in fields:
                problems.append(f"translationMap.{name}: '{field}' is not a field of {message}")
                break
            ftype, repeated = fields[field]
            if indexed and not repeated:
                problems.append(f"translationMap.{name}: '{field}' is not repeated")
            message = ftype.split(".")[-1]
    if set(tmap) != set(output_schema.get("properties", {})):
        problems.append(f"translationMap keys {sorted(tmap)} differ from the output contract "
                        f"{sorted(output_schema.get('properties', {}))}")

    for sample_path, response in samples:
        where = os.path.basename(sample_path)
        try:
            result = resolve(action, response)
        except ValueError as e:
            problems.append(f"{where}: {e}")
            continue
        problems += check_schema_instance(output_schema, result, where)
        first = response["candidates"][0]
        if result.get("primaryTrunkId") != first["trunkId"] or \
                result.get("primarySipUri") != first["sipUri"]:
            problems.append(f"{where}: primary trunk is not the first candidate")
        if result.get("candidateCount") != len(response["candidates"]):
            problems.append(f"{where}: candidateCount {result.get('candidateCount')} != "
                            f"{len(response['candidates'])}")
        second = response["candidates"][1]["trunkId"] if len(response["candidates"]) > 1 else ""
        if result.get("backupTrunkId") != second:
            problems.append(f"{where}: backupTrunkId {result.get('backupTrunkId')!r} != {second!r}")
        if result.get("panic") != response["panic"]:
            problems.append(f"{where}: panic not carried over")
        # Every candidate, in order, with its attempt timeout: a flow or dialer tries them all.
        for output, field in (("candidateTrunkIds", "trunkId"), ("candidateSipUris", "sipUri"),
                              ("candidateSetupTimeoutsMs", "setupTimeoutMs")):
            want = [c[field] for c in response["candidates"]]
            if output not in result:
                problems.append(f"{where}: output lacks {output} (every candidate's {field})")
            elif result[output] != want:
                problems.append(f"{where}: {output} {result[output]!r} != {want!r}")
        if result.get("primarySetupTimeoutMs") != first["setupTimeoutMs"]:
            problems.append(f"{where}: primarySetupTimeoutMs is not the first candidate's "
                            "setupTimeoutMs")
    return problems


def load(root):
    action_path = os.path.join(root, "deploy", "genesys", "route-call-data-action.json")
    action = json.load(open(action_path, encoding="utf-8"))
    proto = proto_messages(os.path.join(root, "proto", "trunkroute", "v1", "routing.proto"))
    for name in ("RouteCallRequest", "RouteCallResponse", "Candidate"):
        if not proto.get(name):
            raise SystemExit(f"routing.proto: message {name} not found or empty")
    sample_paths = sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 "testdata", "route_call_*.json")))
    if len(sample_paths) < 3:
        raise SystemExit("testdata/route_call_*.json: expected at least 3 captured responses")
    samples = [(p, json.load(open(p, encoding="utf-8"))) for p in sample_paths]
    if not any(len(doc["candidates"]) >= 3 for _, doc in samples):
        raise SystemExit("testdata/route_call_*.json: expected a captured response with 3 or more "
                         "candidates (the action must carry every candidate, not only two)")
    return action, proto, samples


def self_test(root):
    action, proto, samples = load(root)
    failures = []

    def expect(name, mutate, needle):
        a = copy.deepcopy(action)
        mutate(a)
        problems = check_action(a, proto, samples)
        if not any(needle in p for p in problems):
            failures.append(f"self-test '{name}': expected '{needle}', got {problems}")

    def tmap(a):
        return a["config"]["response"]["translationMap"]

    def req(a):
        return a["config"]["request"]

    expect("misspelt response field",
           lambda a: tmap(a).update(primaryTrunkId="$.candidates[0].trunkID"),
           "'trunkID' is not a field of Candidate")
    expect("snake_case response field",
           lambda a: tmap(a).update(routeId="$.route_id"), "'route_id' is not a field")
    expect("no default for an optional path",
           lambda a: a["config"]["response"]["translationMapDefaults"].pop("backupTrunkId"),
           "has no default")
    expect("unknown request field",
           lambda a: req(a).update(requestTemplate=req(a)["requestTemplate"].replace(
               '"callId"', '"conversationId"')),
           "'conversationId', not a RouteCallRequest field")
    expect("optional input not quiet",
           lambda a: req(a).update(requestTemplate=req(a)["requestTemplate"].replace(
               "$!esc.jsonString($input.callerId)", "$esc.jsonString($input.callerId)")),
           "rendered without $!")
    expect("unescaped input",
           lambda a: req(a).update(requestTemplate=req(a)["requestTemplate"].replace(
               "$!esc.jsonString($input.callId)", "TEXT").replace('"TEXT"', '"${input.callId}"')),
           "differ from the input contract")
    expect("wrong output type",
           lambda a: a["contract"]["output"]["successSchema"]["properties"]["panic"].update(
               type="string"),
           "is not string")
    expect("token not from credentials",
           lambda a: req(a)["headers"].update(Authorization="Bearer abc123"),
           "credentials")
    expect("wrong method", lambda a: req(a).update(requestType="GET"), "POST")
    expect("plain http", lambda a: req(a).update(
        requestUrlTemplate="http://trunkroute.example.com/v1/route"), "https://")

    def drop_output(a, name):
        tmap(a).pop(name)
        a["config"]["response"]["translationMapDefaults"].pop(name)
        a["contract"]["output"]["successSchema"]["properties"].pop(name)
        a["contract"]["output"]["successSchema"]["required"].remove(name)
        a["config"]["response"]["successTemplate"] = a["config"]["response"][
            "successTemplate"].replace(f', "{name}": ${{{name}}}', "")

    expect("no setup timeouts", lambda a: drop_output(a, "candidateSetupTimeoutsMs"),
           "output lacks candidateSetupTimeoutsMs")
    expect("only the first candidate",
           lambda a: tmap(a).update(candidateTrunkIds="$.candidates[0].trunkId"), "is not array")
    expect("candidates without an index",
           lambda a: tmap(a).update(candidateSipUris="$.candidates.sipUri"),
           "candidateSipUris [] !=")
    if check_action(action, proto, samples):
        failures.append("self-test: the shipped action does not pass: " +
                        "; ".join(check_action(action, proto, samples)))
    return failures


def main(argv):
    if len(argv) not in (2, 3) or (len(argv) == 3 and argv[2] != "--self-test"):
        print(__doc__, file=sys.stderr)
        return 2
    if len(argv) == 3:
        problems = self_test(argv[1])
    else:
        problems = check_action(*load(argv[1]))
    for p in problems:
        print("FAIL:", p, file=sys.stderr)
    if problems:
        return 1
    print("OK: Genesys data action renders a valid RouteCallRequest and maps captured "
          "RouteCallResponses onto its output contract" +
          (" (self-test passed)" if len(argv) == 3 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
