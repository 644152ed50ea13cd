#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Description: every source file names its licence, and the licence agrees
with LICENSE: GPL-2.0 in kmod/ (the shared ioctl header also offers MIT),
MIT everywhere else, and each identifier used has its text in LICENSES/.
Exits 1 listing each file that breaks this.
"""
import os
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
CHECKED = re.compile(r"(\.(c|h|cpp|sh|py|map|gp)|^meson\.build|"
                     r"^meson_options\.txt|^Makefile|^Kbuild|^Kconfig|^rules)$")
ALLOWED = {
    "kmod": {"GPL-2.0"},
    "kmod/sanverbs_ioctl.h": {"(GPL-2.0 WITH Linux-syscall-note) OR MIT"},
}
TEXTS = {"MIT": "MIT.txt", "GPL-2.0": "GPL-2.0.txt",
         "Linux-syscall-note": "Linux-syscall-note.txt"}


def allowed(rel):
    if rel in ALLOWED:
        return ALLOWED[rel]
    top = rel.split("/", 1)[0]
    return ALLOWED.get(top, {"MIT"})


errors = []
count = 0
for dirpath, dirnames, filenames in os.walk(root):
    # hidden directories, build trees (meson's and debhelper's) and
    # debhelper's staging areas are not sources
    dirnames[:] = [d for d in dirnames if not d.startswith(".")
                   and not (pathlib.Path(dirpath, d) / "meson-private").exists()
                   and not d.startswith("obj-")
                   and not (dirpath.endswith("debian") and d != "source")]
    for name in filenames:
        if not CHECKED.search(name):
            continue
        path = pathlib.Path(dirpath, name)
        rel = path.relative_to(root).as_posix()
        count += 1
        head = path.read_text(errors="replace").splitlines()[:5]
        ids = [m.group(1).strip().rstrip("*/").strip() for l in head
               for m in [re.search(r"SPDX-License-Identifier:\s*(.*)", l)] if m]
        if not ids:
            errors.append(f"{rel}: no SPDX-License-Identifier in its first lines")
            continue
        if ids[0] not in allowed(rel):
            errors.append(f"{rel}: {ids[0]}, expected {' or '.join(sorted(allowed(rel)))}")
        for lic in re.findall(r"[A-Za-z0-9.-]+", ids[0]):
            if lic in ("WITH", "OR", "AND"):
                continue
            if lic not in TEXTS or not (root / "LICENSES" / TEXTS[lic]).exists():
                errors.append(f"{rel}: {lic} has no text in LICENSES/")
if not (root / "LICENSE").exists():
    errors.append("LICENSE: missing")
for e in errors:
    print(e)
print(f"{count} files checked, {len(errors)} problems")
sys.exit(1 if errors else 0)
