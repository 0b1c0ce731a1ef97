#!/usr/bin/env python3
"""Runs every project entry of a compile_commands.json as `clang++ -fsyntax-only` with the
thread-safety analysis as an error. Usage: tsa_check.py compile_commands.json REPO_ROOT JOBS
[REGEX] (only the files whose path under REPO_ROOT matches REGEX). Prints the diagnostics of each failing file; exits 1 if any file failed, 0 otherwise."""

import concurrent.futures
import json
import os
import re
import shlex
import subprocess
import sys

FLAGS = ["-fsyntax-only", "-Wthread-safety", "-Werror=thread-safety"]


def syntax_only(command):
    """The compile command without its output (-o FILE, -c), checking only."""
    args = shlex.split(command)
    out = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "-o":
            skip = True
        elif arg != "-c":
            out.append(arg)
    return out[:1] + FLAGS + out[1:]


def main():
    database, root, jobs = sys.argv[1], os.path.realpath(sys.argv[2]), int(sys.argv[3])
    only = re.compile(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] else None
    with open(database) as f:
        entries = json.load(f)
    build = os.path.realpath(os.path.dirname(database))
    work = []
    for e in entries:
        path = os.path.realpath(os.path.join(e["directory"], e["file"]))
        # Ours only: protoc's output lives in the build tree.
        if not path.startswith(root + os.sep) or path.startswith(build + os.sep):
            continue
        name = os.path.relpath(path, root)
        if only is None or only.search(name):
            work.append((name, e["directory"], syntax_only(e["command"])))
    if not work:
        print("tsa_check: no project files in " + database, file=sys.stderr)
        return 1

    def check(item):
        name, directory, argv = item
        r = subprocess.run(argv, cwd=directory, capture_output=True, text=True)
        return name, r.returncode, r.stderr

    failed = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for name, code, err in pool.map(check, work):
            if code != 0:
                failed.append(name)
                sys.stderr.write(err)
            elif "warning:" in err:
                sys.stderr.write(err)  # other warnings: shown, not fatal here
    print(f"tsa_check: {len(work)} files, {len(failed)} failed", file=sys.stderr)
    for name in failed:
        print(f"  FAILED {name}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
