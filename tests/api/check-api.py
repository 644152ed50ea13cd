#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Description: the public API stays consistent, versioned and documented.

For libsanverbs (src/libsanverbs.map) and libsanverbs-provider
(provider/libsanverbs-provider.map): every symbol in the version script is
declared in a public header and exported by the built library under a
version of that script; every symbol the library exports is in its version
script; every exported function has a man page under docs/man/ that names it
in its NAME section (the build installs a page or a link under each of those
names, so `man FUNCTION` works). Exits 1 listing each breach.

usage: check-api.py SRCROOT LIBSANVERBS [LIBSANVERBS_PROVIDER]
"""
import pathlib
import re
import subprocess
import sys

src_root = pathlib.Path(sys.argv[1])
libs = [("src/libsanverbs.map", sys.argv[2], "sanverbs_")]
if len(sys.argv) > 3:
    libs.append(("provider/libsanverbs-provider.map", sys.argv[3], ""))

headers = "".join(p.read_text() for p in (src_root / "include").rglob("*.h"))

# libc functions the library defines in front of libc's, so that it sees
# the changes userfaultfd does not report, and unmaps it need not wait
# for (src/monitor/uffd_hooks.c):
# exported and in the version script, but not sanverbs API (no header, no
# page).
interposed = {"mprotect", "pkey_mprotect", "shmat", "munmap"}

named = set()
for page in (src_root / "docs" / "man").glob("*.3.md"):
    m = re.search(r"# NAME\s*\n\s*\n?(.*?)\s+-\s", page.read_text(), re.S)
    if m:
        named |= {n.strip() for n in m.group(1).split(",")}

errors = []
total = 0
for mapname, lib, prefix in libs:
    text = re.sub(r"/\*.*?\*/", "", (src_root / mapname).read_text(),
                  flags=re.S)
    mapped = set()
    versions = set(re.findall(r"^\s*([A-Za-z0-9_.]+)\s*(?:\{)", text, re.M))
    for stanza in re.finditer(r"global:(.*?)(?:local:|\})", text, re.S):
        mapped |= {s.strip() for s in stanza.group(1).split(";") if s.strip()}

    nm = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                        capture_output=True, text=True).stdout
    exported = {}
    for line in nm.splitlines():
        f = line.split()
        if len(f) < 3 or f[1] not in "TDBWVi":
            continue
        name, _, ver = f[2].partition("@")
        if name.startswith(prefix) or name in interposed:
            exported[name] = ver.lstrip("@")

    for s in sorted(set(mapped) - set(exported)):
        errors.append(f"{s}: in {mapname} but not exported by {lib}")
    for s in sorted(set(exported) - mapped):
        errors.append(f"{s}: exported by {lib} but missing from {mapname}")
    for s, ver in sorted(exported.items()):
        if s in mapped and ver not in versions:
            errors.append(f"{s}: exported without a version of {mapname} "
                          f"({ver or 'unversioned'})")
    for s in sorted(mapped - interposed):
        if not re.search(r"\b%s\s*\(" % re.escape(s), headers):
            errors.append(f"{s}: not declared in include/")
        if s not in named:
            errors.append(f"{s}: no man page in docs/man/ names it")
    total += len(mapped)
for e in errors:
    print(e)
print(f"{total} symbols checked, {len(errors)} problems")
sys.exit(1 if errors else 0)
