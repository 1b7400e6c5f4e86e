#!/usr/bin/env bash
# usage: bench/write-ab.sh A_BIN B_BIN [REPEATS]
#
# The PutParameter rows of make bench (durable, auth and audit on, c=64,
# 64-byte values over 1000 names: overwrite and new names) for two builds
# of paramstore and etcd's put, in one invocation, alternating, REPEATS
# times (default 2), every measured process under nice -n -10 with its
# autogroup raised (autogroup scheduling puts each session in its own group,
# which plain nice does not reach): an A/B of a write-path change as ratios,
# with each server's CPU per write (user + system from /proc, which other
# work on the machine does not inflate the way it does req/s) and the load
# average beside each round. Ports: picked free by the kernel. Needs
# bin/loadgen and bin/etcdload (make bench builds them) and etcd.
set -euo pipefail
cd "$(dirname "$0")/.."
A_BIN=${1:?usage: bench/write-ab.sh A_BIN B_BIN [REPEATS]}; B_BIN=${2:?usage: bench/write-ab.sh A_BIN B_BIN [REPEATS]}; REPEATS=${3:-2}
DUR=${DUR:-5s}
work=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
read -r p1 p2 p3 p4 < <(python3 -c 'import socket
ss=[socket.socket() for _ in range(4)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
A=127.0.0.1:$p1 B=127.0.0.1:$p2 E=127.0.0.1:$p3 EP=127.0.0.1:$p4
# raise the autogroup of this session (the servers, etcd and the generators)
raise() { echo -15 >"/proc/$1/autogroup" 2>/dev/null || true; }
for s in a b; do
	bin=$A_BIN addr=$A; [ $s = b ] && bin=$B_BIN addr=$B
	nice -n -10 "$bin" server --listen "$addr" --data-dir "$work/$s" --log-level error --standard-parameter-limit 100000000 >"$work/$s.out" 2>&1 &
	pids+=($!)
	raise $!
done
A_PID=${pids[0]} B_PID=${pids[1]}
nice -n -10 etcd --name bench --data-dir "$work/etcd" --listen-client-urls "http://$E" --advertise-client-urls "http://$E" \
	--listen-peer-urls "http://$EP" --initial-advertise-peer-urls "http://$EP" --initial-cluster "bench=http://$EP" \
	--log-level error >"$work/etcd.log" 2>&1 &
pids+=($!) E_PID=$!
for u in "http://$A/readyz" "http://$B/readyz" "http://$E/health"; do
	for _ in $(seq 300); do curl -fs -o /dev/null "$u" && break; sleep 0.1; done
done
./bin/loadgen -url "http://$A" -creds "$work/a/root-credentials" -params 1000 -size 64 -c 16 -d 100ms -mix get=1 >/dev/null
./bin/loadgen -url "http://$B" -creds "$work/b/root-credentials" -params 1000 -size 64 -c 16 -d 100ms -mix get=1 >/dev/null
# cpu PID: the CPU seconds (user + system) the process has used so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); print ($12 + $13) / hz}' "/proc/$1/stat"; }
# row NAME PID CMD...: runs CMD (a generator writing its JSON report to
# $work/NAME.json) and writes the server's CPU microseconds per request to
# $work/NAME.cpu.
row() {
	local name=$1 pid=$2 c0
	shift 2
	c0=$(cpu "$pid")
	"$@" >"$work/$name.json"
	python3 -c "import json,sys; t=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])['total']; print(round((float(sys.argv[3]) - float(sys.argv[2])) * 1e6 / max(t.get('Count') or t.get('N') or 1, 1)))" \
		"$work/$name.json" "$c0" "$(cpu "$pid")" >"$work/$name.cpu"
}
rps() { python3 -c "import json,sys; print(round(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])['total']['RPS'], 1))" "$1"; }
for rep in $(seq "$REPEATS"); do
	for mix in put putnew; do
		row a "$A_PID" nice -n -10 ./bin/loadgen -url "http://$A" -creds "$work/a/root-credentials" -params 1000 -size 64 -noseed -c 64 -d "$DUR" -mix $mix=1 -json
		row b "$B_PID" nice -n -10 ./bin/loadgen -url "http://$B" -creds "$work/b/root-credentials" -params 1000 -size 64 -noseed -c 64 -d "$DUR" -mix $mix=1 -json
		row e "$E_PID" nice -n -10 ./bin/etcdload -endpoints "$E" -op $mix -c 64 -d "$DUR" -keys 1000 -size 64 -json
		a=$(rps "$work/a.json") b=$(rps "$work/b.json") e=$(rps "$work/e.json")
		echo "round $rep $mix: A $a/s, B $b/s, etcd $e/s; A/etcd $(python3 -c "print(round($a/$e, 2))"), B/etcd $(python3 -c "print(round($b/$e, 2))"), B/A $(python3 -c "print(round($b/$a, 2))"); server CPU µs/write A $(cat "$work/a.cpu") B $(cat "$work/b.cpu") etcd $(cat "$work/e.cpu"); load $(cut -d' ' -f1-3 /proc/loadavg)"
	done
done
