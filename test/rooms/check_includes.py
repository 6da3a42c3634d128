#!/usr/bin/env python3
"""The room table of DESIGN.md, checked: every #include in core/, net/, policy/ and store/
must be one its room may use. One idea: the arrows between rooms point one way
(core -> {net, policy, store}); policy/ stays pure (libc's pure headers only: no I/O, no
libuv, no clock); net/ never reaches into policy/ or store/; store/ uses LMDB (and
hiredis, mbedtls' hashes), never the HTTP or JSON libraries; nothing ships bench/ or test/.
To extend it (a new room, a new allowed library), edit ROOMS below and DESIGN.md together.
Usage: check_includes.py SOURCE_ROOT; prints each violation as FILE:LINE and exits 1."""
import os
import re
import sys

# room: (rooms whose quoted headers it may include, predicate on <system> headers)
PURE_LIBC = {
    "assert.h", "ctype.h", "errno.h", "float.h", "inttypes.h", "limits.h", "math.h",
    "stdarg.h", "stdbool.h", "stddef.h", "stdint.h", "stdio.h", "stdlib.h", "string.h",
    "strings.h",
}
ROOMS = {
    "core": ({"core", "net", "policy", "store"}, lambda h: True),
    "net": ({"net"}, lambda h: not h.startswith(("lmdb", "hiredis"))),
    "policy": ({"policy"}, lambda h: h in PURE_LIBC),
    "store": ({"store"}, lambda h: not h.startswith(("uv", "llhttp", "cjson/"))),
}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def check(root):
    bad = []
    for room, (may, system_ok) in ROOMS.items():
        top = os.path.join(root, room)
        for dirpath, _, files in os.walk(top):
            for name in sorted(files):
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8", errors="replace") as f:
                    for no, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        kind, header = m.groups()
                        if kind == '"':
                            target = header.split("/", 1)[0] if "/" in header else room
                            if target not in may:
                                bad.append(f"{rel}:{no}: {room}/ may not include \"{header}\" ({target}/ is not one of {sorted(may)})")
                        elif not system_ok(header):
                            bad.append(f"{rel}:{no}: {room}/ may not include <{header}>")
    return bad


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    bad = check(os.path.abspath(root))
    for b in bad:
        print(b)
    rooms = ", ".join(ROOMS)
    print(f"{'ok' if not bad else 'FAIL'}: includes of {rooms} checked against DESIGN.md's room table")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
