#!/bin/sh
# test/fuzz/fuzz_run.sh: runs one libFuzzer target for SLUICE_FUZZ_SECONDS seconds (read
# when the test runs, not when meson configures). Unset or 20 or less: the short CI run
# (at most 20000 inputs, at most that many seconds). Longer: time-bounded only, e.g.
#   SLUICE_FUZZ_SECONDS=600 test/run
#   SLUICE_FUZZ_SECONDS=600 meson test -C build-fuzz --suite fuzz -t 7 fuzz_sse
# (-t multiplies meson's 120 s test timeout; test/run sets it itself).
# Usage: fuzz_run.sh FUZZER [libFuzzer args and corpus dirs...]
set -eu
secs="${SLUICE_FUZZ_SECONDS:-20}"
case "$secs" in
  '' | *[!0-9]*) echo "fuzz_run.sh: SLUICE_FUZZ_SECONDS must be a whole number of seconds, not '$secs'" >&2; exit 1 ;;
esac
[ "$secs" -ge 1 ] || secs=1
exe="$1"
shift
if [ "$secs" -le 20 ]; then
  exec "$exe" -runs=20000 -max_total_time="$secs" "$@"
fi
exec "$exe" -max_total_time="$secs" "$@"
