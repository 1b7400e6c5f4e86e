#!/usr/bin/env bash
# usage: bench/gen-ab.sh LOADGEN_A LOADGEN_B [REPEATS]
#
# An A/B of two load generators (bench/loadgen builds) against the same
# servers in one invocation: make bench's "GetParameter, signed per
# request" row (c=16) against paramstore and moto_server, and its durable
# PutParameter rows (c=64, overwrite and new names) against paramstore and
# etcd (bench/tools/etcdload), alternating A and B, REPEATS rounds (default
# 2) of DUR (default 5s) per row. Every measured process runs at nice -10
# with its autogroup at -15 (as root), so that other sessions' work on a
# shared machine takes less from it. Prints per row req/s, p99, the
# server's CPU per request (/proc) and the generator's CPU (cores, µs per
# request), with the load average. Builds paramstore,
# etcdload into a temporary directory; needs etcd and moto_server.
set -euo pipefail
cd "$(dirname "$0")/.."
A=${1:?usage: bench/gen-ab.sh LOADGEN_A LOADGEN_B [REPEATS]}
B=${2:?usage: bench/gen-ab.sh LOADGEN_A LOADGEN_B [REPEATS]}
REPEATS=${3:-2}
DUR=${DUR:-5s}
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
raise() { # pid: nice -10 (set by the caller) and the autogroup at -15, when allowed
	echo -15 >"/proc/$1/autogroup" 2>/dev/null || true
}
go build -o "$work/paramstore" ./cmd/paramstore
(cd bench/tools && go build -o "$work/etcdload" ./etcdload)
read -r p1 p2 p3 p4 < <(python3 -c 'import socket
ss=[socket.socket() for _ in range(4)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
PS=127.0.0.1:$p1 MOTO=127.0.0.1:$p2 ETCD=127.0.0.1:$p3 ETCD_PEER=127.0.0.1:$p4
nice -n -10 "$work/paramstore" server --listen $PS --data-dir "$work/ps" --log-level error \
	--standard-parameter-limit 100000000 >"$work/ps.out" 2>&1 &
pids+=($!) PS_PID=$!
raise $!
nice -n -10 moto_server -H 127.0.0.1 -p "$p2" >"$work/moto.log" 2>&1 &
pids+=($!) MOTO_PID=$!
raise $!
nice -n -10 etcd --name bench --data-dir "$work/etcd" --listen-client-urls "http://$ETCD" --advertise-client-urls "http://$ETCD" \
	--listen-peer-urls "http://$ETCD_PEER" --initial-advertise-peer-urls "http://$ETCD_PEER" \
	--initial-cluster "bench=http://$ETCD_PEER" --log-level error >"$work/etcd.log" 2>&1 &
pids+=($!) ETCD_PID=$!
raise $!
for u in "http://$PS/readyz" "http://$MOTO/moto-api/" "http://$ETCD/health"; do
	for _ in $(seq 300); do curl -fs -o /dev/null "$u" && break; sleep 0.1; done
done
printf '[default]\naws_access_key_id = test\naws_secret_access_key = test\n' >"$work/moto-credentials"
creds() { [ "$1" = "$MOTO" ] && echo "$work/moto-credentials" || echo "$work/ps/root-credentials"; }
for addr in $PS $MOTO; do
	"$B" -url "http://$addr" -creds "$(creds $addr)" -params 1000 -size 64 -c 16 -d 100ms -mix get=1 >/dev/null
done

cpu() { awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); print ($12 + $13) / hz}' "/proc/$1/stat"; } # seconds
row() { # label server-pid command...
	local label=$1 spid=$2 c0
	shift 2
	c0=$(cpu "$spid")
	nice -n -10 "$@" -json >"$work/out" &
	local pid=$!
	raise $pid
	wait $pid || { echo "$label: failed"; return 0; }
	python3 - "$label" "$work/out" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(cpu "$spid")" "$c0" <<-'EOF'
		import json, sys
		label, path, load, c1, c0 = sys.argv[1:]
		r = json.loads(open(path).read().strip().splitlines()[-1])
		t = r["total"]
		n = max(t["Count"], 1)
		us = r.get("generator_cpu_us_per_request") or 1e6 * r["generator_cpu_cores"] * r["elapsed_s"] / n
		srv = 1e6 * (float(c1) - float(c0)) / n
		print(f"{label:34s} {t['RPS']:8.0f} req/s  p99 {t['P99']:7.2f} ms  errors {t['Errors']}  server {srv:6.1f} us/req  generator {r['generator_cpu_cores']:.2f} cores {us:6.1f} us/req  load {load}")
	EOF
}
lg() { # binary addr concurrency mix
	local srv=paramstore spid=$PS_PID
	[ "$2" = "$MOTO" ] && srv=moto spid=$MOTO_PID
	row "$(basename "$1") $srv c=$3 $4" $spid "$1" -url "http://$2" -creds "$(creds "$2")" -params 1000 -size 64 -noseed -c "$3" -d "$DUR" -mix "$4"
}
for rep in $(seq "$REPEATS"); do
	echo "== round $rep ($(date -u +%H:%M:%S))"
	for g in "$A" "$B"; do lg "$g" $PS 16 get=1; done
	for g in "$A" "$B"; do lg "$g" $MOTO 16 get=1; done
	for mix in put putnew; do
		for g in "$A" "$B"; do lg "$g" $PS 64 $mix=1; done
		if [ ! -e "/proc/$ETCD_PID" ]; then
			echo "etcd has exited; the end of its log:"
			tail -n 20 "$work/etcd.log"
			exit 1
		fi
		row "etcdload $mix c=64" $ETCD_PID "$work/etcdload" -endpoints $ETCD -op $mix -c 64 -d "$DUR" -keys 1000 -size 64
	done
done
