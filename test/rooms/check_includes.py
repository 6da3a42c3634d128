#!/usr/bin/env python3
"""The room table of DESIGN.md, checked: every #include in core/, net/, policy/ and store/
must be one its room may use. One idea: the arrows between rooms point one way
(core -> {net, policy, store}); policy/ stays pure (libc's pure headers only: no I/O, no
libuv, no clock); net/ never reaches into policy/ or store/; store/ uses LMDB (and
hiredis, mbedtls' hashes), never the HTTP or JSON libraries; nothing ships bench/ or test/.
To extend it (a new room, a new allowed library), edit ROOMS below and DESIGN.md together.
The second rule of the table, "one writer": only core/respond.c writes to a client
(calls sl_conn_respond* or sl_conn_stream_*); and the attempts (core/attempt*.c) report to
their request through rq->events, never calling the response module or sl_request_finish.
Usage: check_includes.py SOURCE_ROOT; prints each violation as FILE:LINE and exits 1."""
import os
import re
import sys

# room: (rooms whose quoted headers it may include, predicate on <system> headers)
PURE_LIBC = {
    "assert.h", "ctype.h", "errno.h", "float.h", "inttypes.h", "limits.h", "math.h",
    "stdarg.h", "stdbool.h", "stddef.h", "stdint.h", "stdio.h", "stdlib.h", "string.h",
    "strings.h",
    "emmintrin.h",  # SSE2 intrinsics: compiler-provided, pure (policy/route_features.c)
}
WIRE_SYSTEM = PURE_LIBC | {"time.h"}
ROOMS = {
    "core": ({"core", "core/config", "net", "net/wire", "net/base", "policy", "store"}, lambda h: True),
    # core/config: loads, validates and compiles the plan; never the rest of core/.
    "core/config": ({"core/config", "net", "net/wire", "net/base", "policy"},
                    lambda h: not h.startswith(("uv", "lmdb", "hiredis", "llhttp"))),
    "net": ({"net", "net/wire", "net/base"}, lambda h: not h.startswith(("lmdb", "hiredis"))),
    # net/wire: pure formats, bytes in and bytes out (JSON via cJSON, SHA-256 via mbedtls,
    # CRC-32 via zlib).
    "net/wire": ({"net/wire", "net/base"},
                 lambda h: h in PURE_LIBC or h == "zlib.h" or h.startswith(("cjson/", "mbedtls/"))),
    # net/base: the base layer every room but policy/ may include.
    "net/base": ({"net/base"}, lambda h: h in PURE_LIBC),
    "policy": ({"policy"}, lambda h: h in PURE_LIBC),
    "store": ({"store", "net/base"}, lambda h: not h.startswith(("uv", "llhttp", "cjson/"))),
}


def room_of(rel_dir):
    """The deepest room a directory (or a header path's folder) lies in."""
    best = None
    for room in ROOMS:
        if rel_dir == room or rel_dir.startswith(room + "/"):
            if best is None or len(room) > len(best):
                best = room
    return best


INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def check(root):
    bad = []
    for top_room in ("core", "net", "policy", "store"):
        for dirpath, _, files in os.walk(os.path.join(root, top_room)):
            room = room_of(os.path.relpath(dirpath, root))
            may, system_ok = ROOMS[room]
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
                            target = room_of(os.path.dirname(header)) if "/" in header else room
                            if target not in may:
                                bad.append(f"{rel}:{no}: {room}/ may not include \"{header}\" ({target}/ is not one of {sorted(may)})")
                        elif not system_ok(header):
                            bad.append(f"{rel}:{no}: {room}/ may not include <{header}>")
    return bad


WRITER = re.compile(r"\bsl_conn_(respond\w*|stream_\w+)\s*\(")
THE_WRITER = "core/respond.c"


def check_one_writer(root):
    bad = []
    for dirpath, _, files in os.walk(os.path.join(root, "core")):
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(dirpath, name), root)
            if not name.endswith(".c") or rel == THE_WRITER:
                continue
            with open(os.path.join(dirpath, name), encoding="utf-8", errors="replace") as f:
                for no, line in enumerate(f, 1):
                    if WRITER.search(line):
                        bad.append(f"{rel}:{no}: only {THE_WRITER} writes to the client")
    return bad


ANSWERS = re.compile(r"\b(sl_respond_\w+|sl_request_finish)\s*\(")


def check_attempts_report(root):
    """The attempts (core/attempt*.c) report through attempt_events.h; they never answer
    the client or end the request themselves."""
    bad = []
    for name in sorted(os.listdir(os.path.join(root, "core"))):
        if not (name.startswith("attempt") and name.endswith(".c")):
            continue
        with open(os.path.join(root, "core", name), encoding="utf-8", errors="replace") as f:
            for no, line in enumerate(f, 1):
                if ANSWERS.search(line):
                    bad.append(f"core/{name}:{no}: attempts report through rq->events, never answer themselves")
    return bad


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    bad = check(os.path.abspath(root)) + check_one_writer(os.path.abspath(root)) + check_attempts_report(os.path.abspath(root))
    for b in bad:
        print(b)
    rooms = ", ".join(ROOMS)
    print(f"{'ok' if not bad else 'FAIL'}: includes of {rooms} checked against DESIGN.md's room table")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
