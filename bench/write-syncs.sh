#!/usr/bin/env bash
# usage: bench/write-syncs.sh [BIN] [put|putnew]
#
# Counts the fsync and fdatasync calls of a durable server (auth and audit
# on) per acknowledged PutParameter at concurrency 64, with strace
# (--seccomp-bpf: only those two calls stop the process). Unlike req/s on a
# shared machine, the count per write does not depend on what else runs:
# it shows how well writes share the raft log's, the state machine's and
# the audit trail's fsyncs. Needs bin/loadgen (make bench builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-bin/paramstore}; MIX=${2:-put}
work=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
PS=${WRITE_SYNCS_ADDR:-127.0.0.1:4791} # another address when that port is taken
$BIN server --listen $PS --data-dir "$work/ps" --log-level error --standard-parameter-limit 100000000 >"$work/ps.out" 2>&1 & pids+=($!)
spid=$!
for _ in $(seq 300); do curl -fs -o /dev/null http://$PS/readyz && break; sleep 0.1; done
./bin/loadgen -url http://$PS -creds "$work/ps/root-credentials" -params 1000 -size 64 -c 16 -d 100ms -mix get=1 >/dev/null
strace --seccomp-bpf -f -c -e trace=fsync,fdatasync -p $spid -o "$work/strace" & tpid=$!
sleep 1
n=$(./bin/loadgen -url http://$PS -creds "$work/ps/root-credentials" -params 1000 -size 64 -noseed -c 64 -d 5s -mix $MIX=1 -json | tail -1 | python3 -c "import json,sys; d=json.load(sys.stdin); print(list(d['ops'].values())[0]['Count'])")
sleep 0.5
kill -INT $tpid; wait $tpid 2>/dev/null || true
syncs=$(awk '/fsync|fdatasync/ {s+=$4} END {print s}' "$work/strace")
echo "$MIX: writes $n, fsync+fdatasync $syncs, per write $(python3 -c "print(round($syncs/$n,3))")"
cat "$work/strace" | grep -E "fsync|fdatasync"
