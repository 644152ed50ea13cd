#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Description: the public API stays consistent and documented.

Every symbol in the version script is declared in a public header and
exported by the built library; every symbol the library exports is in the
version script; every exported function has a man page under docs/man/ that
names it in its NAME section. Exits 1 listing each breach.
"""
import pathlib
import re
import subprocess
import sys

src_root = pathlib.Path(sys.argv[1])
lib = sys.argv[2]

mapfile = (src_root / "src" / "libsanverbs.map").read_text()
mapfile = re.sub(r"/\*.*?\*/", "", mapfile, flags=re.S)
mapped = set()
for stanza in re.finditer(r"global:(.*?)(?:local:|\})", mapfile, re.S):
    mapped |= {s.strip() for s in stanza.group(1).split(";") if s.strip()}

headers = "".join(p.read_text() for p in (src_root / "include").rglob("*.h"))

nm = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                    capture_output=True, text=True).stdout
exported = {l.split()[-1].split("@")[0] for l in nm.splitlines()
            if " T " in l or " D " in l or " B " in l}
exported = {s for s in exported if s.startswith("sanverbs_")}

named = set()
for page in (src_root / "docs" / "man").glob("*.3.md"):
    m = re.search(r"# NAME\s*\n\s*\n?(.*?)\s+-\s", page.read_text(), re.S)
    if m:
        named |= {n.strip() for n in m.group(1).split(",")}

errors = []
for s in sorted(mapped - exported):
    errors.append(f"{s}: in libsanverbs.map but not exported by {lib}")
for s in sorted(exported - mapped):
    errors.append(f"{s}: exported but missing from libsanverbs.map")
for s in sorted(mapped):
    if not re.search(r"\b%s\s*\(" % re.escape(s), headers):
        errors.append(f"{s}: not declared in include/")
    if s not in named:
        errors.append(f"{s}: no man page in docs/man/ names it")
for e in errors:
    print(e)
print(f"{len(mapped)} symbols checked, {len(errors)} problems")
sys.exit(1 if errors else 0)
