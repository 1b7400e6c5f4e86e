#!/usr/bin/env bash
# Issue 5 figures: a cached GetParameter through the agent (the Lambda
# extension path) against a direct GetParameter on the server, same run and
# load (hey, concurrency 16); and change propagation latency through the
# agent (put on the server, poll the agent until it serves the new value).
#
# usage: bench/agent-measure.sh [duration] [propagation-samples]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10s}
N=${2:-50}
C=16
SRV=4594
AG=4595
command -v hey >/dev/null || { echo "hey is required: apt-get install hey"; exit 1; }
go build -o bin/paramstore ./cmd/paramstore
work=$(mktemp -d)
cleanup() { kill "$srv_pid" "$ag_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
./bin/paramstore server --dev --listen 127.0.0.1:$SRV --log-level error >/dev/null 2>"$work/srv.log" &
srv_pid=$!
for _ in $(seq 100); do curl -fs http://127.0.0.1:$SRV/readyz >/dev/null 2>&1 && break; sleep 0.1; done
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
python3 -c "
import boto3
boto3.client('ssm', endpoint_url='http://127.0.0.1:$SRV').put_parameter(Name='/bench/p1', Value='x'*64, Type='String', Overwrite=True)"
./bin/paramstore agent --upstream http://127.0.0.1:$SRV --listen 127.0.0.1:$AG --token tok --region us-east-1 --log-level error 2>"$work/ag.log" &
ag_pid=$!
for _ in $(seq 100); do curl -fs http://127.0.0.1:$AG/healthz >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs -H "X-Aws-Parameters-Secrets-Token: tok" "http://127.0.0.1:$AG/systemsmanager/parameters/get?name=%2Fbench%2Fp1" >/dev/null

summ() { awk '/Requests\/sec/ {r=$2} / 50% in/ {p50=$3*1000} / 99% in/ {p99=$3*1000}
	/Status code distribution/ {f=1; next} f && /\[/ && $1 != "[200]" {e+=$2}
	END {printf "%.0f %.2f %.2f %d\n", r, p50, p99, e}' "$1"; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
echo
echo "| GetParameter, concurrency $C, $DUR | req/s | p50 ms | p99 ms | non-200 |"
echo "|---|---:|---:|---:|---:|"
for round in 1 2; do
	hey -z "$DUR" -c $C -H "X-Aws-Parameters-Secrets-Token: tok" \
		"http://127.0.0.1:$AG/systemsmanager/parameters/get?name=%2Fbench%2Fp1" >"$work/a.out"
	read -r r p50 p99 e < <(summ "$work/a.out")
	echo "| agent, cached (Lambda extension path), round $round | $r | $p50 | $p99 | $e |"
	hey -z "$DUR" -c $C -m POST -H "X-Amz-Target: AmazonSSM.GetParameter" -T "application/x-amz-json-1.1" \
		-H "Authorization: AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=00" \
		-H "X-Amz-Date: 20260101T000000Z" -d '{"Name": "/bench/p1"}' "http://127.0.0.1:$SRV/" >"$work/s.out"
	read -r r p50 p99 e < <(summ "$work/s.out")
	echo "| server, direct (--dev), round $round | $r | $p50 | $p99 | $e |"
done
echo
python3 - "$SRV" "$AG" "$N" <<'PY'
import boto3, sys, time, urllib.request, json
srv, ag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = boto3.client("ssm", endpoint_url=f"http://127.0.0.1:{srv}")
url = f"http://127.0.0.1:{ag}/systemsmanager/parameters/get?name=%2Fbench%2Fprop"
c.put_parameter(Name="/bench/prop", Value="v0", Type="String", Overwrite=True)
def agent_value():
    req = urllib.request.Request(url, headers={"X-Aws-Parameters-Secrets-Token": "tok"})
    return json.load(urllib.request.urlopen(req))["Parameter"]["Value"]
deadline = time.time() + 10
while agent_value() != "v0" and time.time() < deadline:
    time.sleep(0.01)
lat = []
for i in range(1, n + 1):
    v = f"v{i}"
    t0 = time.perf_counter()
    c.put_parameter(Name="/bench/prop", Value=v, Type="String", Overwrite=True)
    while agent_value() != v:
        if time.perf_counter() - t0 > 10:
            sys.exit(f"value {v} not seen through the agent within 10 s")
        time.sleep(0.002)
    lat.append((time.perf_counter() - t0) * 1000)
lat.sort()
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"change propagation through the agent (put acknowledged -> agent serves it), {n} samples, default TTL 5m so only the change stream can deliver it:")
print(f"p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, max {lat[-1]:.1f} ms (includes the put's own latency and 2 ms polling)")
PY
