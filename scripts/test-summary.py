#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Sums meson's JSON test logs from the host and guest runs into one report.

The README test command runs the unit suite on the host and the device
suites inside guests with different kernels; each run writes its own
testlog. This prints every non-passing test, a per-suite table, and a
closing 'N passed, N failed, N skipped' line. A log given as LABEL=PATH
names its suites "suite@LABEL" (the kernel they ran on). In the full run a
skip in a device suite (rxe, kmod) means the rig failed to provide the
device, so --no-device-skips counts it as a failure.
"""
import argparse
import collections
import json
import sys

PASS = {"OK", "EXPECTEDFAIL"}
SKIP = {"SKIP"}
TAIL = 12


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--no-device-skips", action="store_true")
    ap.add_argument("--expect-suite", action="append", default=[],
                    help="fail unless this suite ran at least one test")
    args = ap.parse_args()

    per_suite = collections.defaultdict(collections.Counter)
    problems = []
    tails = []
    for arg in args.logs:
        label, sep, path = arg.partition("=")
        if not sep:
            label, path = "", arg
        try:
            lines = open(path, encoding="utf-8").read().splitlines()
        except OSError as e:
            problems.append(f"missing test log {path}: {e.strerror}")
            continue
        for line in lines:
            if not line.strip():
                continue
            t = json.loads(line)
            # meson names a test "project:suite / test"
            head, _, name = t["name"].partition(" / ")
            suite = head.split(":", 1)[-1] if name else "?"
            if "valgrind" in path:
                suite += "+vg"
            elif "-asan." in path:
                suite += "+asan"
            base = suite.split("+")[0]
            if label:
                suite += "@" + label
            t["name"] = name or head
            res = t["result"]
            if res in PASS:
                kind = "passed"
            elif res in SKIP:
                kind = "skipped"
                if args.no_device_skips and base in ("rxe", "kmod"):
                    kind = "failed"
                    problems.append(f"{suite}/{t['name']}: skipped in the "
                                    "full run (no device?)")
            else:
                kind = "failed"
                problems.append(f"{suite}/{t['name']}: {res}")
                tails.append((f"{suite}/{t['name']}", t.get("stdout") or ""))
            per_suite[suite][kind] += 1

    for s in args.expect_suite:
        if sum(per_suite[s].values()) == 0:
            problems.append(f"suite {s} ran no test")

    # CI keeps only the end of the output: the failing tests' last lines
    # go here, next to the table, so a failure can be read from it alone.
    for name, out in tails:
        print(f"\n== last lines of {name} ==")
        for line in out.splitlines()[-TAIL:]:
            print("  " + line[:300])
    print("\n== sanverbs test summary ==")
    width = max([8] + [len(x) for x in per_suite])
    for suite in sorted(per_suite):
        c = per_suite[suite]
        print(f"  {suite:{width}s} passed {c['passed']:3d}  failed {c['failed']:3d}"
              f"  skipped {c['skipped']:3d}")
    for p in problems:
        print(f"  FAILED: {p}")
    tot = collections.Counter()
    for c in per_suite.values():
        tot.update(c)
    failed = tot["failed"] + sum(1 for p in problems
                                 if p.startswith(("missing", "suite ")))
    print(f"{tot['passed']} passed, {failed} failed, {tot['skipped']} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
