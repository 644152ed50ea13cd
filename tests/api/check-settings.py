#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Description: `sanverbs info` lists exactly the SANVERBS_* environment
variables the libraries read. Every "SANVERBS_NAME" string in src/ and
provider/ must appear in `sanverbs info --json` with a default, a source and
a meaning, and info must list no variable that nothing reads. Exits 1
listing each difference.
"""
import json
import pathlib
import re
import subprocess
import sys

root = pathlib.Path(sys.argv[1])
cli = sys.argv[2]

read = {}
for d in ("src", "provider"):
    for f in (root / d).rglob("*.[ch]"):
        for name in re.findall(r'"(SANVERBS_[A-Z0-9_]+)"', f.read_text()):
            read.setdefault(name, f.relative_to(root).as_posix())

env = {"PATH": "/usr/bin:/bin"}
out = subprocess.run([cli, "info", "--json"], check=True, env=env,
                     capture_output=True, text=True).stdout
listed = {s["name"]: s for s in json.loads(out)["settings"]}

errors = []
for name in sorted(set(read) - set(listed)):
    errors.append(f"{name}: read in {read[name]} but not listed by "
                  "`sanverbs info` (tools/cli-settings.c)")
for name in sorted(set(listed) - set(read)):
    errors.append(f"{name}: listed by `sanverbs info` but read nowhere")
for name, s in sorted(listed.items()):
    for key in ("value", "default", "source", "meaning", "read_by"):
        if not s.get(key):
            errors.append(f"{name}: no {key}")
for e in errors:
    print(e)
print(f"{len(read)} settings read, {len(listed)} listed, {len(errors)} problems")
sys.exit(1 if errors else 0)
