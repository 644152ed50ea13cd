#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Lists the man pages under docs/man/ for meson, one line each:

    FILE.md SECTION PAGE [ALIAS...]

PAGE is the file's name without .SECTION.md; the aliases are the other names
its NAME section lists (each gets a link to the page, so `man ALIAS` works).
"""
import pathlib
import re
import sys

man = pathlib.Path(sys.argv[1])
for md in sorted(man.glob("*.md")):
    m = re.fullmatch(r"(.+)\.([1-8])\.md", md.name)
    if not m:
        sys.exit(f"{md}: name is not PAGE.SECTION.md")
    page, section = m.groups()
    name = re.search(r"^# NAME\s*\n\s*\n?(.*?)\s+-\s", md.read_text(),
                     re.S | re.M)
    if not name:
        sys.exit(f"{md}: no NAME section of the form 'name, ... - what'")
    names = [n.strip() for n in name.group(1).split(",")]
    if page not in names:
        sys.exit(f"{md}: its NAME section does not list {page}")
    aliases = [n for n in names if n != page]
    print(" ".join([md.name, section, page] + aliases))
