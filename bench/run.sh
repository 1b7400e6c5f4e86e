#!/usr/bin/env bash
# The side-by-side benchmark (`make bench`): Paramstore, a no-op Go HTTP
# handler (the ceiling for an HTTP JSON service here), moto_server and etcd,
# under the same load in one invocation, then the scale runs; writes
# bench/RESULTS.md, bench/results.png, bench/latency.png and bench/scale.png.
#
# usage: bench/run.sh [-d 10s] [-scale 1000,100000,1000000 | -scale none] [-only REGEX]
#
# -scale none skips the scale runs and keeps the scale section of the
# existing RESULTS.md, saying from when. -only REGEX runs only the rows
# whose operation matches REGEX (grep -E, case-insensitive; "cluster"
# matches the 3-node phase), no scale runs, and prints the report instead
# of writing bench/RESULTS.md: e.g. `bench/run.sh -d 5s -only signed`.
#
# Paramstore runs as users run it: SigV4 authentication on (root
# credentials), the audit trail on, every write acknowledged after the raft
# log, the state machine and the audit record are fsynced. Reads are
# replayed by wrk from one signed request (a signature is valid for 15
# minutes and neither AWS nor Paramstore rejects a replay), so the
# generator costs little; the signed-per-request row, writes and the mix
# are signed one by one by bench/loadgen (awsreq.Lean: the SDK signer's
# headers to the byte, at a fraction of its CPU). Every row reports its
# generator's CPU (loadgen and etcdload measure their own; wrk's is timed
# here). etcd gets the same value sizes, keys and concurrency through its
# Go client (bench/tools/etcdload). Then tests/cluster BenchmarkThroughput's
# write rows (1 and 3 nodes) for the cluster target.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=10s
SCALE=1000,100000,1000000
ONLY=
while [ $# -gt 0 ]; do
	case $1 in
	-d) DUR=$2; shift 2 ;;
	-scale) SCALE=$2; shift 2 ;;
	-only) ONLY=$2; SCALE=none; shift 2 ;;
	*) echo "usage: bench/run.sh [-d 10s] [-scale 1000,100000,1000000|none] [-only REGEX]" >&2; exit 2 ;;
	esac
done
want() { [ -z "$ONLY" ] || grep -qiE -- "$ONLY" <<<"$1"; }
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
READ_C=16   # concurrency of the read rows
WRITE_C=64  # concurrency of the write rows (the target names 64)
SIZE=64     # value bytes
PARAMS=1000 # parameters the reads and overwrites pick from

need() { # command package
	command -v "$1" >/dev/null && return
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "installing $2 (Debian package)"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
	fi
	command -v "$1" >/dev/null || { echo "bench: $1 is required (apt-get install $2)" >&2; exit 1; }
}
need wrk wrk
need etcd etcd-server
command -v moto_server >/dev/null || { echo "bench: moto_server is required (pip install 'moto[server]')" >&2; exit 1; }

echo "building"
mkdir -p bin
go build -o bin/paramstore ./cmd/paramstore
go build -o bin/noop ./bench/noop
go build -o bin/loadgen ./bench/loadgen
go build -o bin/wrkreq ./bench/wrkreq
go build -o bin/scale ./bench/scale
go build -o bin/report ./bench/report
(cd bench/tools && go build -o ../../bin/etcdload ./etcdload && go build -o ../../bin/chart ./chart)

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# Ports the kernel picks (free now), so that runs on a shared machine do not collide.
read -r p1 p2 p3 p4 p5 < <(python3 -c 'import socket
ss=[socket.socket() for _ in range(5)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
PS=127.0.0.1:$p1 NOOP=127.0.0.1:$p2 MOTO=127.0.0.1:$p3 ETCD=127.0.0.1:$p4 ETCD_PEER=127.0.0.1:$p5
./bin/paramstore server --listen $PS --data-dir "$work/ps" --log-level error \
	--standard-parameter-limit 100000000 >"$work/ps.out" 2>&1 &
pids+=($!) PS_PID=$!
./bin/noop -listen $NOOP 2>"$work/noop.log" &
pids+=($!) NOOP_PID=$!
moto_server -H 127.0.0.1 -p ${MOTO##*:} >"$work/moto.log" 2>&1 &
pids+=($!) MOTO_PID=$!
etcd --name bench --data-dir "$work/etcd" --listen-client-urls http://$ETCD --advertise-client-urls http://$ETCD \
	--listen-peer-urls http://$ETCD_PEER --initial-advertise-peer-urls http://$ETCD_PEER \
	--initial-cluster bench=http://$ETCD_PEER --log-level error >"$work/etcd.log" 2>&1 &
pids+=($!) ETCD_PID=$!
wait_up() { # url log
	for _ in $(seq 600); do curl -fs -o /dev/null "$1" && return; sleep 0.1; done
	echo "bench: $1 did not come up within 60 s; the end of $2:" >&2
	tail -n 20 "$2" >&2
	exit 1
}
wait_up http://$PS/readyz "$work/ps.out"
wait_up http://$MOTO/moto-api/ "$work/moto.log"
wait_up http://$ETCD/health "$work/etcd.log"
CREDS="$work/ps/root-credentials"
# moto accepts any signature; test/test are its customary credentials.
printf '[default]\naws_access_key_id = test\naws_secret_access_key = test\n' >"$work/moto-credentials"

rows="$work/rows.jsonl"
: >"$rows"
record() { # op server tool file generator-CPU-seconds server-CPU-seconds
	printf '{"op":"%s","server":"%s","tool":"%s","gen_cpu_s":%s,"server_cpu_s":%s,"result":%s}\n' \
		"$1" "$2" "$3" "${5:-0}" "${6:-0}" "$(tail -n 1 "$4")" >>"$rows"
	echo "  $1 | $2: $(tail -n 1 "$4" | head -c 200)"
}
# The CPU time (user + system, seconds) a server process has used so far:
# read before and after a row, it gives the server's CPU per request, which
# unlike latency and req/s other work on the machine does not inflate.
server_cpu() { # server
	local pid
	case $1 in paramstore) pid=$PS_PID ;; noop) pid=$NOOP_PID ;; moto) pid=$MOTO_PID ;; etcd) pid=$ETCD_PID ;; esac
	awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); print ($12 + $13) / hz}' "/proc/$pid/stat"
}
since() { awk -v a="$1" -v b="$2" 'BEGIN {print b - a}'; }
creds_for() { [ "$1" = moto ] && echo "$work/moto-credentials" || echo "$CREDS"; }
addr_for() { case $1 in paramstore) echo $PS ;; moto) echo $MOTO ;; noop) echo $NOOP ;; esac; }

echo "seeding $PARAMS String and $PARAMS SecureString parameters of $SIZE bytes"
for srv in paramstore moto; do
	./bin/loadgen -url http://$(addr_for $srv) -creds "$(creds_for $srv)" -params $PARAMS -size $SIZE \
		-c 16 -d 100ms -mix get=1 >/dev/null
done

wrk_row() { # op server target body
	want "$1" || return 0
	local srv=$2 lua="$work/req.lua" out="$work/out" TIMEFORMAT='%U %S'
	./bin/wrkreq -url "http://$(addr_for "$srv")/" -creds "$(creds_for "$srv")" -target "$3" -body "$4" >"$lua"
	# wrk's own CPU (user + system seconds), as loadgen and etcdload report theirs
	local c0
	c0=$(server_cpu "$srv")
	{ time wrk -t2 -c$READ_C -d"$DUR" -s "$lua" "http://$(addr_for "$srv")/" >"$out"; } 2>"$work/wrk.time"
	record "$1" "$srv" wrk "$out" "$(awk '{print $1 + $2}' "$work/wrk.time")" "$(since "$c0" "$(server_cpu "$srv")")"
}
loadgen_row() { # op server concurrency mix
	want "$1" || return 0
	local srv=$2 out="$work/out" c0
	c0=$(server_cpu "$srv")
	./bin/loadgen -url "http://$(addr_for "$srv")" -creds "$(creds_for "$srv")" -params $PARAMS -size $SIZE \
		-noseed -c "$3" -d "$DUR" -mix "$4" -json >"$out"
	record "$1" "$srv" loadgen "$out" 0 "$(since "$c0" "$(server_cpu "$srv")")"
}
etcd_row() { # op etcd-op concurrency
	want "$1" || return 0
	local out="$work/out" c0
	c0=$(server_cpu etcd)
	./bin/etcdload -endpoints $ETCD -op "$2" -c "$3" -d "$DUR" -keys $PARAMS -size $SIZE -json >"$out"
	record "$1" etcd etcdload "$out" 0 "$(since "$c0" "$(server_cpu etcd)")"
}

echo "running, $DUR per row"
GET='{"Name":"/loadgen/p0000001"}'
GETSEC='{"Name":"/loadgen-secure/p0000001","WithDecryption":true}'
BYPATH='{"Path":"/loadgen","MaxResults":10}'
DESCRIBE='{"ParameterFilters":[{"Key":"Path","Option":"Recursive","Values":["/loadgen"]},{"Key":"Type","Values":["String"]}],"MaxResults":10}'
for srv in paramstore noop moto; do wrk_row "GetParameter String" $srv GetParameter "$GET"; done
etcd_row "GetParameter String" get $READ_C
for srv in paramstore noop moto; do wrk_row "GetParameter SecureString, decrypted" $srv GetParameter "$GETSEC"; done
for srv in paramstore moto; do wrk_row "GetParametersByPath, 10 per page" $srv GetParametersByPath "$BYPATH"; done
for srv in paramstore moto; do wrk_row "DescribeParameters, path+type filters" $srv DescribeParameters "$DESCRIBE"; done
for srv in paramstore moto; do loadgen_row "GetParameter, signed per request" $srv $READ_C get=1; done
for srv in paramstore moto; do loadgen_row "PutParameter overwrite, c=$WRITE_C" $srv $WRITE_C put=1; done
etcd_row "PutParameter overwrite, c=$WRITE_C" put $WRITE_C
for srv in paramstore moto; do loadgen_row "PutParameter new names, c=$WRITE_C" $srv $WRITE_C putnew=1; done
etcd_row "PutParameter new names, c=$WRITE_C" putnew $WRITE_C
for srv in paramstore moto; do
	loadgen_row "SDK mix (get 70, secure 10, path 5, put 10, describe 5)" $srv $READ_C \
		get=70,getsecure=10,bypath=5,put=10,describe=5
done
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()
results=bench/results.jsonl
[ -n "$ONLY" ] && results="$work/results.jsonl"
cp "$rows" "$results"

cluster_args=()
if want "cluster: 3-node vs 1-node writes"; then
	echo "cluster: tests/cluster BenchmarkThroughput, writes on 1 and 3 nodes"
	go test -count=1 -run '^$' -bench 'Throughput/nodes=[13]/write$' -benchtime 5s ./tests/cluster/ >"$work/cluster.txt" 2>&1 ||
		{ echo "bench: the cluster benchmark failed:" >&2; tail -n 30 "$work/cluster.txt" >&2; }
	grep 'req/s' "$work/cluster.txt" || true
	cluster_args=(-cluster-bench "$work/cluster.txt")
fi

scale_args=()
if [ "$SCALE" = none ] && [ -z "$ONLY" ] && grep -q '^## Scale runs' bench/RESULTS.md 2>/dev/null; then
	# Keep the previous scale section, with when its scale phase ran: the
	# date its own first line names, or the last commit of bench/scale.json.
	sed -n '/^## Scale runs/,/^## /{/^## /!p}' bench/RESULTS.md >"$work/scale-kept.md"
	from=$(grep -oE '^Scale phase of (this|an earlier) run: [^.]*' "$work/scale-kept.md" | head -n 1 | sed 's/^Scale phase of [a-z ]* run: //' || true)
	[ -n "$from" ] || from=$(git log -1 --format=%cd --date=format:'%Y-%m-%d %H:%M UTC' -- bench/scale.json 2>/dev/null || true)
	[ -n "$from" ] || from="an unknown date"
	echo "scale runs skipped (-scale none): keeping the scale section of bench/RESULTS.md (scale phase of $from)"
	scale_args=(-scale-kept "$work/scale-kept.md" -scale-kept-from "$from")
elif [ "$SCALE" != none ]; then
	echo "scale runs: $SCALE parameters"
	./bin/scale -bin bin/paramstore -sizes "$SCALE" -json-out bench/scale.json -md-out bench/scale.md
	./bin/chart -scale bench/scale.json -out bench/scale.png
	scale_args=(-scale-md bench/scale.md -scale-json bench/scale.json)
fi

if [ -n "$ONLY" ]; then
	./bin/report -rows "$results" -duration "$DUR" -read-c $READ_C -write-c $WRITE_C -size $SIZE -only "$ONLY" \
		-load-start "$LOAD_START" "${cluster_args[@]}"
	echo "(a partial run: bench/RESULTS.md left as it was)"
	exit 0
fi
./bin/report -rows bench/results.jsonl -duration "$DUR" -read-c $READ_C -write-c $WRITE_C -size $SIZE -load-start "$LOAD_START" \
	-chart-json "$work/chart.json" "${scale_args[@]}" "${cluster_args[@]}" >"$work/RESULTS.md"
mv "$work/RESULTS.md" bench/RESULTS.md
# The fleet benchmark (make bench-fleet) takes far longer; its figures live in
# bench/FLEET.md and are kept in RESULTS.md across runs of this script.
if [ -f bench/FLEET.md ]; then
	{ echo; sed -n '/^## /,$p' bench/FLEET.md; } >>bench/RESULTS.md
fi
./bin/chart -results "$work/chart.json" -out bench/results.png -out-p99 bench/latency.png
echo "wrote bench/RESULTS.md, bench/results.png, bench/latency.png$([ "$SCALE" != none ] && echo ", bench/scale.png")"
