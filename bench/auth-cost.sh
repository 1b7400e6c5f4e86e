#!/usr/bin/env bash
# Cost of authentication (issue 3): GetParameter requests/s and latency on a
# server with SigV4 verification and policy evaluation (a non-root user with
# a path policy) against the same binary in --dev (any signature accepted),
# same run, same load (hey, concurrency 16). The request is signed once with
# botocore and replayed: a SigV4 signature stays valid for 15 minutes, and
# the server verifies it in full on every request. Both servers write the
# audit trail.
#
# usage: bench/auth-cost.sh [duration] [rounds]   (default 10s, 2 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10s}
ROUNDS=${2:-2}
C=16
DEV_PORT=4592
AUTH_PORT=4593
command -v hey >/dev/null || { echo "hey is required: apt-get install hey"; exit 1; }

go build -o bin/paramstore ./cmd/paramstore
work=$(mktemp -d)
cleanup() { kill "$dev_pid" "$auth_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
./bin/paramstore server --dev --listen 127.0.0.1:$DEV_PORT --log-level error >/dev/null 2>"$work/dev.log" &
dev_pid=$!
./bin/paramstore server --listen 127.0.0.1:$AUTH_PORT --data-dir "$work/data" --log-level error 2>"$work/auth.log" &
auth_pid=$!
for port in $DEV_PORT $AUTH_PORT; do
	for _ in $(seq 100); do curl -fs http://127.0.0.1:$port/readyz >/dev/null 2>&1 && break; sleep 0.1; done
done

cat >"$work/policy.json" <<'JSON'
{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:GetParameter*","Resource":"arn:aws:ssm:*:*:parameter/bench/*"}]}
JSON
admin=(--endpoint http://127.0.0.1:$AUTH_PORT --credentials-file "$work/data/root-credentials")
./bin/paramstore auth "${admin[@]}" create-user bench --policy-file "$work/policy.json" >/dev/null
./bin/paramstore auth "${admin[@]}" create-access-key bench >"$work/bench-credentials"

# Seed /bench/p1 on both, then sign one GetParameter for the auth server.
python3 - "$work" $DEV_PORT $AUTH_PORT <<'PY'
import boto3, configparser, sys, json, datetime
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
work, dev, auth = sys.argv[1], sys.argv[2], sys.argv[3]
def creds(path):
    cp = configparser.ConfigParser(); cp.read(path)
    return cp["default"]["aws_access_key_id"], cp["default"]["aws_secret_access_key"]
rk, rs = creds(work + "/data/root-credentials")
value = "x" * 64
for port, k, s in ((dev, "test", "test"), (auth, rk, rs)):
    boto3.client("ssm", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                 aws_access_key_id=k, aws_secret_access_key=s).put_parameter(
        Name="/bench/p1", Value=value, Type="String", Overwrite=True)
bk, bs = creds(work + "/bench-credentials")
body = json.dumps({"Name": "/bench/p1"})
req = AWSRequest(method="POST", url=f"http://127.0.0.1:{auth}/", data=body, headers={
    "X-Amz-Target": "AmazonSSM.GetParameter", "Content-Type": "application/x-amz-json-1.1"})
SigV4Auth(Credentials(bk, bs), "ssm", "us-east-1").add_auth(req)
with open(work + "/signed", "w") as f:
    f.write(req.headers["Authorization"] + "\n" + req.headers["X-Amz-Date"] + "\n" + body + "\n")
PY
AUTHZ=$(sed -n 1p "$work/signed"); XDATE=$(sed -n 2p "$work/signed"); BODY=$(sed -n 3p "$work/signed")
# Sanity: the signed request succeeds and a tampered one fails.
curl -fs -X POST http://127.0.0.1:$AUTH_PORT/ -H "X-Amz-Target: AmazonSSM.GetParameter" -H "Content-Type: application/x-amz-json-1.1" \
	-H "Authorization: $AUTHZ" -H "X-Amz-Date: $XDATE" -d "$BODY" >/dev/null
if curl -fs -X POST http://127.0.0.1:$AUTH_PORT/ -H "X-Amz-Target: AmazonSSM.GetParameter" -H "Content-Type: application/x-amz-json-1.1" \
	-H "Authorization: $AUTHZ" -H "X-Amz-Date: $XDATE" -d '{"Name": "/bench/p2"}' >/dev/null; then
	echo "tampered request accepted"; exit 1
fi

run() { # port -> "rps p50 p99 non200"
	hey -z "$DUR" -c $C -m POST -H "X-Amz-Target: AmazonSSM.GetParameter" -H "Authorization: $AUTHZ" \
		-H "X-Amz-Date: $XDATE" -T "application/x-amz-json-1.1" -d "$BODY" "http://127.0.0.1:$1/" >"$work/hey.out"
	awk '/Requests\/sec/ {r=$2} / 50% in/ {p50=$3*1000} / 99% in/ {p99=$3*1000}
		/Status code distribution/ {f=1; next} f && /\[/ && $1 != "[200]" {e+=$2}
		END {printf "%.0f %.2f %.2f %d\n", r, p50, p99, e}' "$work/hey.out"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
echo "load: hey, GetParameter, concurrency $C, $DUR per run, $ROUNDS alternating rounds, 64-byte String value"
echo
echo "| round | server | req/s | p50 ms | p99 ms | non-200 |"
echo "|---|---|---:|---:|---:|---:|"
sum_dev=0; sum_auth=0
for r in $(seq "$ROUNDS"); do
	read -r rps p50 p99 e < <(run $DEV_PORT)
	echo "| $r | --dev (no auth) | $rps | $p50 | $p99 | $e |"; sum_dev=$((sum_dev + rps))
	read -r rps p50 p99 e < <(run $AUTH_PORT)
	echo "| $r | SigV4 + policy (IAM user) | $rps | $p50 | $p99 | $e |"; sum_auth=$((sum_auth + rps))
done
echo
awk -v a=$sum_auth -v d=$sum_dev 'BEGIN {printf "auth / dev requests/s = %.2f (cost of auth: %.0f%%)\n", a/d, (1-a/d)*100}'
