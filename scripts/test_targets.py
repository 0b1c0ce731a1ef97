#!/usr/bin/env python3
"""Prints the ninja targets the ctest tests selected by the given ctest arguments need, one per
line, or `all` when that cannot be told. Usage: test_targets.py BUILD_DIR [ctest args...]

A test needs the build outputs its command names (its executable and any $<TARGET_FILE:...>
argument); the targets those depend on (add_dependencies, e.g. trunkrouted for the tests that
start it) come with them through ninja. A GoogleTest binary not built yet is listed by ctest as
<target>_NOT_BUILT; a test whose command is a target not built yet shows no command (`all`).
A command naming the build directory itself (scripts given --build DIR), or a
build-tree path that is not a ninja output, needs everything: `all`."""

import json
import os
import subprocess
import sys


def main():
    build = os.path.realpath(sys.argv[1])
    shown = subprocess.run(["ctest", "--show-only=json-v1", *sys.argv[2:]], cwd=build,
                           capture_output=True, text=True, check=True)
    tests = json.loads(shown.stdout).get("tests", [])
    listed = subprocess.run(["ninja", "-C", build, "-t", "targets", "all"],
                            capture_output=True, text=True, check=True).stdout
    outputs = {line.split(":", 1)[0] for line in listed.splitlines()}
    targets = set()
    for test in tests:
        name = test["name"]
        if name.endswith("_NOT_BUILT") and name[: -len("_NOT_BUILT")] in outputs:
            targets.add(name[: -len("_NOT_BUILT")])
            continue
        command = test.get("command")
        if not command:  # an add_test(COMMAND target) whose target is not built yet
            print("all")
            return 0
        for arg in command:
            path = os.path.realpath(arg) if os.path.isabs(arg) else None
            if path is None or not (path == build or path.startswith(build + os.sep)):
                continue  # not a build output (the source tree, python3, flags)
            rel = os.path.relpath(path, build)
            if rel == "." or rel not in outputs:
                print("all")
                return 0
            targets.add(rel)
    for target in sorted(targets):
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
