#!/usr/bin/env python3
"""Fails when two SIP tests take the same port slot or a slot outside 1-199.

ctest runs the SIP suites in parallel; two tests on one slot bind the same ports and one of them
fails with "Address already in use", but only when they happen to run at the same moment. This
check makes the collision a deterministic failure instead.

usage: check_port_slots.py SOURCE_ROOT
"""
import pathlib
import re
import sys

# UseSlot(N) (tests/sip/edge_test_fixture.h), Ports ports(N) (tests/cluster/cluster_sip_test.cc)
# and kPortSlot = N (suites that compute their ports themselves).
SLOT = re.compile(r"\bUseSlot\((\d+)\)|\bPorts ports\((\d+)\)|\bkPortSlot = (\d+)")


def main() -> int:
    root = pathlib.Path(sys.argv[1])
    owners: dict[int, list[str]] = {}
    for path in sorted(root.joinpath("tests").rglob("*.cc")):
        for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for match in SLOT.finditer(line):
                owners.setdefault(int(next(g for g in match.groups() if g)), []).append(
                    f"{path.relative_to(root)}:{lineno}")
    errors = []
    for slot, where in sorted(owners.items()):
        if len(where) > 1:
            errors.append(f"slot {slot} is taken by {len(where)} tests: {', '.join(where)}")
        if not 1 <= slot <= 199:
            errors.append(f"slot {slot} ({where[0]}) is outside 1-199")
    if not owners:
        errors.append("no UseSlot(N) found under tests/: the pattern no longer matches the fixture")
    for e in errors:
        print(e, file=sys.stderr)
    if not errors:
        print(f"{len(owners)} slots, each used once")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
