#!/usr/bin/env bash
# usage: bench/write-ab.sh A_BIN B_BIN [REPEATS]
#
# The PutParameter rows of make bench (durable, auth and audit on, c=64,
# 64-byte values over 1000 names: overwrite and new names) for two builds
# of paramstore and etcd's put, in one invocation, alternating, REPEATS
# times (default 2), every measured process under nice -n -10: an A/B of a
# write-path change as ratios, with the load average beside each round.
# Ports: 4861-4865 (WRITE_AB_PORT_BASE to move them). Needs bin/loadgen and
# bin/etcdload (make bench builds them) and etcd.
set -euo pipefail
cd "$(dirname "$0")/.."
A_BIN=${1:?usage: bench/write-ab.sh A_BIN B_BIN [REPEATS]}; B_BIN=${2:?usage: bench/write-ab.sh A_BIN B_BIN [REPEATS]}; REPEATS=${3:-2}
DUR=${DUR:-5s}; P=${WRITE_AB_PORT_BASE:-4861}
work=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
A=127.0.0.1:$P B=127.0.0.1:$((P + 1)) E=127.0.0.1:$((P + 3)) EP=127.0.0.1:$((P + 4))
for s in a b; do
	bin=$A_BIN addr=$A; [ $s = b ] && bin=$B_BIN addr=$B
	nice -n -10 "$bin" server --listen "$addr" --data-dir "$work/$s" --log-level error --standard-parameter-limit 100000000 >"$work/$s.out" 2>&1 &
	pids+=($!)
done
nice -n -10 etcd --name bench --data-dir "$work/etcd" --listen-client-urls "http://$E" --advertise-client-urls "http://$E" \
	--listen-peer-urls "http://$EP" --initial-advertise-peer-urls "http://$EP" --initial-cluster "bench=http://$EP" \
	--log-level error >"$work/etcd.log" 2>&1 &
pids+=($!)
for u in "http://$A/readyz" "http://$B/readyz" "http://$E/health"; do
	for _ in $(seq 300); do curl -fs -o /dev/null "$u" && break; sleep 0.1; done
done
./bin/loadgen -url "http://$A" -creds "$work/a/root-credentials" -params 1000 -size 64 -c 16 -d 100ms -mix get=1 >/dev/null
./bin/loadgen -url "http://$B" -creds "$work/b/root-credentials" -params 1000 -size 64 -c 16 -d 100ms -mix get=1 >/dev/null
rps() { python3 -c "import json,sys; print(round(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])['total']['RPS'], 1))" "$1"; }
for rep in $(seq "$REPEATS"); do
	for mix in put putnew; do
		nice -n -10 ./bin/loadgen -url "http://$A" -creds "$work/a/root-credentials" -params 1000 -size 64 -noseed -c 64 -d "$DUR" -mix $mix=1 -json >"$work/a.json"
		nice -n -10 ./bin/loadgen -url "http://$B" -creds "$work/b/root-credentials" -params 1000 -size 64 -noseed -c 64 -d "$DUR" -mix $mix=1 -json >"$work/b.json"
		nice -n -10 ./bin/etcdload -endpoints "$E" -op $mix -c 64 -d "$DUR" -keys 1000 -size 64 -json >"$work/e.json"
		a=$(rps "$work/a.json") b=$(rps "$work/b.json") e=$(rps "$work/e.json")
		echo "round $rep $mix: A $a/s, B $b/s, etcd $e/s; A/etcd $(python3 -c "print(round($a/$e, 2))"), B/etcd $(python3 -c "print(round($b/$e, 2))"), B/A $(python3 -c "print(round($b/$a, 2))"); load $(cut -d' ' -f1-3 /proc/loadavg)"
	done
done
