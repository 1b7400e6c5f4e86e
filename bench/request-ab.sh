#!/usr/bin/env bash
# usage: bench/request-ab.sh A_BIN B_BIN [REPEATS]
#
# An A/B of a request-path change: two builds of paramstore (A the A, B
# the change) and the no-op handler, in one invocation, alternating,
# REPEATS times (default 2), each row DUR long (default 5s):
#   - GetParameter String replayed by wrk as bench/run.sh does it (-t2
#     -c16, one signed request), on A, the no-op and B: req/s, the ratio
#     to the no-op, and the server's CPU per request;
#   - PutParameter overwrite, c=64, through bench/loadgen: puts/s and the
#     server's CPU per request;
# with the server's CPU per request (utime+stime from /proc/PID/stat,
# before and after, over the requests done) and its garbage collections
# per 10k requests (GODEBUG=gctrace=1) beside each row, and the load
# average beside each round. Every measured process runs at nice -10 with
# its autogroup raised. Ports are picked free. Needs wrk, and bin/noop,
# bin/loadgen, bin/wrkreq (make bench builds them).
set -euo pipefail
A_BIN=${1:?usage: bench/request-ab.sh A_BIN B_BIN [REPEATS]}; B_BIN=${2:?usage: bench/request-ab.sh A_BIN B_BIN [REPEATS]}; REPEATS=${3:-2}; DUR=${DUR:-5s}
A_BIN=$(realpath "$A_BIN") B_BIN=$(realpath "$B_BIN")
# shellcheck source=bench/ab-common.sh
. "$(dirname "$0")/ab-common.sh"
raise() { echo -15 > /proc/$1/autogroup 2>/dev/null || true; }
GODEBUG=gctrace=1 nice -n -10 "$A_BIN" server --listen $A --data-dir $work/a --log-level error --standard-parameter-limit 100000000 >$work/a.out 2>&1 & APID=$!; pids+=($APID)
GODEBUG=gctrace=1 nice -n -10 "$B_BIN" server --listen $B --data-dir $work/b --log-level error --standard-parameter-limit 100000000 >$work/b.out 2>&1 & BPID=$!; pids+=($BPID)
nice -n -10 $T/noop -listen $N 2>$work/noop.log & NPID=$!; pids+=($NPID)
for p in $APID $BPID $NPID; do raise $p; done
for u in http://$A/readyz http://$B/readyz; do for _ in $(seq 300); do curl -fs -o /dev/null $u && break; sleep 0.1; done; done
sleep 0.5
for s in a b; do addr=$A; [ $s = b ] && addr=$B
  $T/loadgen -url http://$addr -creds $work/$s/root-credentials -params 1000 -size 64 -c 16 -d 100ms -mix get=1 >/dev/null; done
gcs() { [ -f $work/$1.out ] && grep -c "^gc " $work/$1.out || echo 0; }
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
GET='{"Name":"/loadgen/p0000001"}'
wrkrun() { # addr creds pid label
  $T/wrkreq -url "http://$1/" -creds "$2" -target GetParameter -body "$GET" >$work/req.lua
  local f=a; [ $4 = B ] && f=b; [ $4 = noop ] && f=none; local g0=$(gcs $f)
  local c0=$(cpu $3)
  nice -n -10 wrk -t2 -c16 -d$DUR -s $work/req.lua http://$1/ >$work/wrk.out & local w=$!; raise $w; wait $w
  local c1=$(cpu $3)
  local rps=$(awk '/Requests\/sec/{print $2}' $work/wrk.out) n=$(awk '/requests in/{print $1}' $work/wrk.out)
  local g1=$(gcs $f)
  echo "$4 get: $rps req/s, $n reqs, cpu $(python3 -c "print(round(($c1-$c0)*10000/$n,1))") us/req, gcs per 10k req $(python3 -c "print(round(($g1-$g0)*10000/$n,2))")"
  echo $rps > $work/$4.rps
}
putrun() { # addr creds pid label
  local f=a; [ $4 = B ] && f=b; local g0=$(gcs $f)
  local c0=$(cpu $3)
  nice -n -10 $T/loadgen -url http://$1 -creds $2 -params 1000 -size 64 -noseed -c 64 -d $DUR -mix put=1 -json >$work/p.json & local w=$!; raise $w; wait $w
  local c1=$(cpu $3) g1=$(gcs $f)
  python3 - $work/p.json $c0 $c1 $4 $g0 $g1 <<'PY'
import json,sys
t=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])['total']
print(f"{sys.argv[4]} put c=64: {t['RPS']:.0f}/s, {t['Count']} reqs, errors {t['Errors']}, cpu {(float(sys.argv[3])-float(sys.argv[2]))*10000/t['Count']:.1f} us/req, gcs per 10k req {(int(sys.argv[6])-int(sys.argv[5]))*10000/t['Count']:.2f}")
PY
}
for rep in $(seq $REPEATS); do
  echo "== round $rep, load $(cut -d' ' -f1-3 /proc/loadavg)"
  wrkrun $A $work/a/root-credentials $APID A
  wrkrun $N $work/a/root-credentials $NPID noop
  wrkrun $B $work/b/root-credentials $BPID B
  echo "ratios: A/noop $(python3 -c "print(round($(cat $work/A.rps)/$(cat $work/noop.rps),3))") B/noop $(python3 -c "print(round($(cat $work/B.rps)/$(cat $work/noop.rps),3))"); load $(cut -d' ' -f1-3 /proc/loadavg)"
  putrun $A $work/a/root-credentials $APID A
  putrun $B $work/b/root-credentials $BPID B
done
