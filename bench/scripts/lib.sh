# Shared helpers for the bench scripts: start sluice-mock / sluice on ephemeral loopback
# ports and read their ports from their first log lines; stop everything on exit.
BUILD="${BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}"
MOCK="$BUILD/bench/mock/sluice-mock"
SLUICE="$BUILD/core/sluice"
LOAD="$BUILD/bench/load/sluice-load"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# wait_port FILE PATTERN: waits (bounded) for a log line and prints the port in it.
wait_port() {
  local f="$1" i
  for i in $(seq 200); do
    if grep -q '"port":' "$f" 2>/dev/null; then
      grep -m1 -o '"port":[0-9]*' "$f" | cut -d: -f2
      return 0
    fi
    sleep 0.05
  done
  echo "timed out waiting for $f" >&2
  return 1
}

# start_mock NAME ARGS...: starts a mock, sets ${NAME}_PORT.
start_mock() {
  local name="$1"; shift
  "$MOCK" --host 127.0.0.1 --port 0 "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  printf -v "${name}_PORT" '%s' "$(wait_port "$WORK/$name.log")"
}

# start_sluice NAME CONFIG_FILE ARGS...: starts sluice, sets ${NAME}_PORT and ${NAME}_PID.
start_sluice() {
  local name="$1" cfg="$2"; shift 2
  "$SLUICE" --config "$cfg" --host 127.0.0.1 --port 0 "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  printf -v "${name}_PID" '%s' "$!"
  for _ in $(seq 200); do grep -q '"msg":"ready"' "$WORK/$name.log" && break; sleep 0.05; done
  printf -v "${name}_PORT" '%s' "$(grep -m1 '"msg":"ready"' "$WORK/$name.log" | grep -o '"port":[0-9]*' | cut -d: -f2)"
}

stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# mock_requests PORT: API requests the mock has received.
mock_requests() { curl -s "http://127.0.0.1:$1/mock/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])'; }
mock_reset() { curl -s -X POST "http://127.0.0.1:$1/mock/reset" >/dev/null; }

# json_get FILE EXPR: a value from sluice-load's JSON output (python expression on `d`).
json_get() { python3 -c "import json,sys; d=json.load(open('$1')); print($2)"; }

machine() { echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"; }

# --- process accounting (bench/compare) --------------------------------------------------
# proc_tree PID: PID and all its descendants, one per line (from /proc/*/task/*/children).
proc_tree() {
  local p="$1" t c
  [ -d "/proc/$p" ] || return 0
  echo "$p"
  for t in /proc/"$p"/task/*/children; do
    [ -r "$t" ] || continue
    for c in $(cat "$t" 2>/dev/null); do proc_tree "$c"; done
  done
}

# proc_cpu_ticks PID...: utime+stime (clock ticks, all threads) summed over the processes.
proc_cpu_ticks() {
  local sum=0 p s f
  for p in "$@"; do
    s="$(cat "/proc/$p/stat" 2>/dev/null)" || continue
    s="${s##*) }"          # fields after "(comm) ": state is field 3
    read -r -a f <<<"$s"
    sum=$((sum + f[11] + f[12]))   # fields 14 (utime) and 15 (stime)
  done
  echo "$sum"
}

# proc_cpu_ns PID...: CPU time in nanoseconds (first field of each thread's schedstat),
# summed over every thread of the processes: the same clock as utime+stime, unrounded.
proc_cpu_ns() {
  local sum=0 p t v
  for p in "$@"; do
    for t in /proc/"$p"/task/*/schedstat; do
      read -r v _ 2>/dev/null <"$t" || continue
      sum=$((sum + v))
    done
  done
  echo "$sum"
}

# proc_mem_kb FIELD PID...: a /proc/PID/status field in kB (VmHWM: peak RSS, VmRSS: now),
# summed over the processes.
proc_mem_kb() {
  local field="$1" sum=0 p k v; shift
  for p in "$@"; do
    while read -r k v _; do
      [ "$k" = "$field:" ] && { sum=$((sum + v)); break; }
    done 2>/dev/null <"/proc/$p/status" || true
  done
  echo "$sum"
}

# free_port: a TCP port that is free on 127.0.0.1 right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
