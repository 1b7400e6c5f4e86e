#!/usr/bin/env bash
# usage: bench/tail-ab.sh A_BIN B_BIN [REPEATS]
#
# An A/B of the signed-per-request GetParameter row's tail (bench/run.sh's
# "GetParameter, signed per request"): two builds of paramstore (A the
# base, B the change) and the no-op handler, in one invocation,
# alternating A, noop, B, REPEATS times (default 4), each row DUR long
# (default 5s), driven by bench/loadgen at the row's concurrency (C,
# default 16), every request signed afresh. Each row prints req/s, p50,
# p99 and max, the server's CPU per request (utime+stime from
# /proc/PID/stat) and its garbage collections per 10k requests
# (GODEBUG=gctrace=1); each round prints p99 ratios to the no-op's p99 and
# the load average. NICE=-10 runs every measured process at that nice
# level, and raises their autogroups (default: as bench/run.sh, no nice). EXTRA holds more server
# flags for both builds. Needs bin/noop and bin/loadgen (make bench builds
# them).
set -euo pipefail
A_BIN=${1:?usage: bench/tail-ab.sh A_BIN B_BIN [REPEATS]}; B_BIN=${2:?usage: bench/tail-ab.sh A_BIN B_BIN [REPEATS]}
REPEATS=${3:-4}; DUR=${DUR:-5s}; C=${C:-16}; NICE=${NICE:-0}; EXTRA=${EXTRA:-}
A_BIN=$(realpath "$A_BIN") B_BIN=$(realpath "$B_BIN")
# shellcheck source=bench/ab-common.sh
. "$(dirname "$0")/ab-common.sh"
# shellcheck disable=SC2086
GODEBUG=gctrace=1 nice -n "$NICE" "$A_BIN" server --listen $A --data-dir $work/a --log-level error --standard-parameter-limit 100000000 $EXTRA >$work/a.out 2>&1 & APID=$!; pids+=($APID)
# shellcheck disable=SC2086
GODEBUG=gctrace=1 nice -n "$NICE" "$B_BIN" server --listen $B --data-dir $work/b --log-level error --standard-parameter-limit 100000000 $EXTRA >$work/b.out 2>&1 & BPID=$!; pids+=($BPID)
nice -n "$NICE" $T/noop -listen $N 2>$work/noop.log & NPID=$!; pids+=($NPID)
# With NICE below 0, the processes' autogroups are raised too (root), as
# bench/request-ab.sh does: the other work on a shared machine then
# delays the measured processes less.
raise() { [ "$NICE" -lt 0 ] && echo "$NICE" >/proc/$1/autogroup 2>/dev/null || true; }
for p in $APID $BPID $NPID; do raise $p; done
for u in http://$A/readyz http://$B/readyz; do for _ in $(seq 300); do curl -fs -o /dev/null $u && break; sleep 0.1; done; done
sleep 0.5
for s in a b; do addr=$A; [ $s = b ] && addr=$B
	$T/loadgen -url http://$addr -creds $work/$s/root-credentials -params 1000 -size 64 -c 16 -d 100ms -mix get=1 >/dev/null; done
gcs() { if [ -f "$work/$1.out" ]; then grep -c "^gc " "$work/$1.out" || true; else echo 0; fi; }
cpu() { awk '{sub(/^.*\) /, ""); print $12+$13}' /proc/$1/stat; }
row() { # addr creds pid label file
	local g0 c0 c1 g1
	g0=$(gcs "$5"); c0=$(cpu "$3")
	nice -n "$NICE" $T/loadgen -url "http://$1" -creds "$2" -params 1000 -size 64 -noseed -c "$C" -d "$DUR" -mix get=1 -json >$work/$4.json &
	local l=$!; raise $l; wait $l
	c1=$(cpu "$3"); g1=$(gcs "$5")
	python3 - $work/$4.json "$c0" "$c1" "$4" "$g0" "$g1" "$(getconf CLK_TCK)" <<'PY'
import json,sys
r=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); t=r['total']
hz=float(sys.argv[7])
print(f"  {sys.argv[4]:5} {t['RPS']:7.0f}/s p50 {t['P50']:5.2f} p99 {t['P99']:6.2f} max {t['Max']:7.2f} ms, errors {t['Errors']}, "
      f"server cpu {(float(sys.argv[3])-float(sys.argv[2]))/hz*1e6/t['Count']:5.1f} us/req, gcs/10k req {(int(sys.argv[6])-int(sys.argv[5]))*10000/t['Count']:.2f}, "
      f"loadgen {r['generator_cpu_us_per_request']:.1f} us/req")
open(sys.argv[1]+'.p99','w').write(str(t['P99']))
PY
}
p99() { cat $work/$1.json.p99; }
for rep in $(seq "$REPEATS"); do
	echo "== round $rep, load $(cut -d' ' -f1-3 /proc/loadavg)"
	row $A $work/a/root-credentials $APID A a
	row $N $work/a/root-credentials $NPID noop none
	row $B $work/b/root-credentials $BPID B b
	echo "  p99 / noop p99: A $(python3 -c "print(round($(p99 A)/$(p99 noop),2))") B $(python3 -c "print(round($(p99 B)/$(p99 noop),2))"); load $(cut -d' ' -f1-3 /proc/loadavg)"
done
