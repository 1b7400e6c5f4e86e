#!/usr/bin/env bash
# First side-by-side measurement (issue 2): GetParameter and PutParameter at
# concurrency 16 against a durable paramstore server and moto_server, same
# load, same run, with hey. The full harness (SigV4 load generator, no-op
# ceiling, etcd, scale runs) is issue 6's bench/.
#
# usage: bench/first-measure.sh [duration]   (default 10s per run)
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10s}
C=16
PS_PORT=4590
MOTO_PORT=4591
command -v hey >/dev/null || { echo "hey is required: apt-get install hey"; exit 1; }
command -v moto_server >/dev/null || { echo "moto_server is required"; exit 1; }

go build -o bin/paramstore ./cmd/paramstore
work=$(mktemp -d)
cleanup() { kill "$ps_pid" "$moto_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# --dev: any signature is accepted (the load tools do not sign), but the
# store is the same raft log + bbolt state machine with the same fsyncs, in
# a temporary directory. The cost of authentication is bench/auth-cost.sh.
./bin/paramstore server --dev --listen 127.0.0.1:$PS_PORT --log-level error --standard-parameter-limit 10000000 >/dev/null 2>"$work/ps.log" &
ps_pid=$!
moto_server -H 127.0.0.1 -p $MOTO_PORT >"$work/moto.log" 2>&1 &
moto_pid=$!
for url in http://127.0.0.1:$PS_PORT/readyz http://127.0.0.1:$MOTO_PORT/moto-api/; do
	for _ in $(seq 100); do curl -fs "$url" >/dev/null 2>&1 && break; sleep 0.1; done
done

AUTH="AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000"
call() { # url target body
	curl -fs -X POST "$1" -H "X-Amz-Target: AmazonSSM.$2" -H "Content-Type: application/x-amz-json-1.1" \
		-H "Authorization: $AUTH" -H "X-Amz-Date: 20260101T000000Z" -d "$3" >/dev/null
}
load() { # url target body -> "rps p50 p99"
	hey -z "$DUR" -c $C -m POST -H "X-Amz-Target: AmazonSSM.$2" -H "Authorization: $AUTH" \
		-H "X-Amz-Date: 20260101T000000Z" -T "application/x-amz-json-1.1" -d "$3" "$1" >"$work/hey.out"
	local rps p50 p99 errs
	rps=$(awk '/Requests\/sec/ {print $2}' "$work/hey.out")
	p50=$(awk '/ 50% in/ {print $3*1000}' "$work/hey.out")
	p99=$(awk '/ 99% in/ {print $3*1000}' "$work/hey.out")
	errs=$(awk '/Status code distribution/ {f=1; next} f && /\[/ && $1 != "[200]" {s+=$2} END {print s+0}' "$work/hey.out")
	echo "$rps $p50 $p99 $errs"
}

VALUE=$(head -c 64 /dev/zero | tr '\0' 'x')
GET='{"Name": "/bench/p1"}'
PUT="{\"Name\": \"/bench/w\", \"Value\": \"$VALUE\", \"Type\": \"String\", \"Overwrite\": true}"
for port in $PS_PORT $MOTO_PORT; do
	call http://127.0.0.1:$port/ PutParameter "{\"Name\": \"/bench/p1\", \"Value\": \"$VALUE\", \"Type\": \"String\", \"Overwrite\": true}"
done

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
echo "load: hey, concurrency $C, $DUR per run, 64-byte String value"
echo
echo "| operation | server | req/s | p50 ms | p99 ms | non-200 |"
echo "|---|---|---:|---:|---:|---:|"
declare -A R
row() { # label srv rps p50 p99 errs
	R[$1.$2]=$3
	printf "| %s | %s | %.0f | %.2f | %.2f | %s |\n" "$1" "$2" "$3" "$4" "$5" "$6"
}
go build -o bin/load ./bench/load
for srv in paramstore moto; do
	port=$PS_PORT; [ $srv = moto ] && port=$MOTO_PORT
	read -r rps p50 p99 errs < <(load http://127.0.0.1:$port/ GetParameter "$GET")
	row "GetParameter (one name, hey)" $srv "$rps" "$p50" "$p99" "$errs"
done
for srv in paramstore moto; do
	port=$PS_PORT; [ $srv = moto ] && port=$MOTO_PORT
	read -r rps p50 p99 errs < <(./bin/load -url http://127.0.0.1:$port/ -op put-new -c $C -d "$DUR")
	row "PutParameter (new names)" $srv "$rps" "$p50" "$p99" "$errs"
done
for srv in paramstore moto; do
	port=$PS_PORT; [ $srv = moto ] && port=$MOTO_PORT
	read -r rps p50 p99 errs < <(./bin/load -url http://127.0.0.1:$port/ -op put-overwrite -n 1000 -c $C -d "$DUR")
	row "PutParameter (overwrite, 1000 names)" $srv "$rps" "$p50" "$p99" "$errs"
done
for srv in paramstore moto; do
	port=$PS_PORT; [ $srv = moto ] && port=$MOTO_PORT
	read -r rps p50 p99 errs < <(load http://127.0.0.1:$port/ PutParameter "$PUT")
	row "PutParameter (overwrite, one hot name, hey)" $srv "$rps" "$p50" "$p99" "$errs"
done
echo
for op in "GetParameter (one name, hey)" "PutParameter (new names)" "PutParameter (overwrite, 1000 names)" "PutParameter (overwrite, one hot name, hey)"; do
	awk -v a="${R[$op.paramstore]}" -v b="${R[$op.moto]}" -v op="$op" 'BEGIN {printf "%s: paramstore/moto = %.1fx\n", op, a/b}'
done
