#!/usr/bin/env python3
"""Flash and RAM per origin (libsbp / example / toolchain) from a GNU ld map file, after --gc-sections.
Usage: map_sizes.py FIRMWARE.map"""
import re
import sys

totals = {}
text = open(sys.argv[1]).read()
for m in re.finditer(r"^ (\.\S+)\s*\n?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)$", text, re.M):
    section, address, size, origin = m.group(1), int(m.group(2), 16), int(m.group(3), 16), m.group(4)
    if size == 0 or address == 0:
        continue  # discarded by --gc-sections, or debug info
    if section.startswith((".text", ".rodata")):
        kind = "text"
    elif section.startswith(".data"):
        kind = "data"
    elif section.startswith((".bss", "COMMON")):
        kind = "bss"
    else:
        continue
    who = "libsbp" if "libsbp.a" in origin else "example" if "generic_mcu_main" in origin else "toolchain"
    totals.setdefault(who, {"text": 0, "data": 0, "bss": 0})[kind] += size
print("   text\t   data\t    bss\torigin (linked, after --gc-sections)")
for who in ("libsbp", "example", "toolchain"):
    t = totals.get(who, {"text": 0, "data": 0, "bss": 0})
    print("%7d\t%7d\t%7d\t%s" % (t["text"], t["data"], t["bss"], who))
