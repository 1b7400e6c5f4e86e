package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/paramstore/paramstore/internal/testproc"
)

// BenchmarkThroughput measures requests/s of a 1-node and a 3-node cluster
// (without fault injection) with 8 x GOMAXPROCS concurrent clients spread
// over the nodes: PutParameter (each write commits through raft), GetParameter
// with the default linearizable reads, and with stale (local) reads. It is a
// measurement, not an assertion: go test -run '^$' -bench Throughput
// ./tests/cluster/ (make cluster-long runs it too).
//
// With PARAMSTORE_BENCH_PPROF=DIR each node serves pprof (--debug-listen)
// and a CPU profile of every node during each measurement is written to
// DIR/<benchmark>-<node>.pprof (with -benchtime long enough: each profile
// lasts PARAMSTORE_BENCH_PPROF_SECONDS, default 5).
func BenchmarkThroughput(b *testing.B) {
	profDir := os.Getenv("PARAMSTORE_BENCH_PPROF")
	for _, size := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d", size), func(b *testing.B) {
			cs := &cluster{}
			debug := map[*node]string{}
			if profDir != "" {
				cs.nodeArgs = func(n *node) []string {
					if debug[n] == "" {
						debug[n] = testproc.FreeAddr(b)
					}
					return []string{"--debug-listen", debug[n]}
				}
			}
			c := startClusterWith(b, size, cs, nil)
			const readable = 100
			seed := c.client(c.nodes[0], false, 10*time.Second)
			for i := range readable {
				_, err := seed.PutParameter(context.Background(), &ssm.PutParameterInput{
					Name: aws.String(fmt.Sprintf("/bench/read/p%03d", i)), Value: aws.String("value"), Type: types.ParameterTypeString, Overwrite: aws.Bool(true),
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			c.converge(30 * time.Second)
			leader := c.leader(30 * time.Second)
			for _, kind := range []string{"write", "read", "read-stale"} {
				b.Run(kind, func(b *testing.B) {
					var next, failed atomic.Int64
					var firstErr atomic.Value
					b.SetParallelism(8) // 8 x GOMAXPROCS clients
					cpu := startCPU(c, leader)
					prof := startProfiles(b, profDir, debug)
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						id := next.Add(1)
						n := c.nodes[int(id)%len(c.nodes)]
						cl := c.client(n, kind == "read-stale", 10*time.Second)
						ctx := context.Background()
						for i := 0; pb.Next(); i++ {
							var err error
							if kind == "write" {
								_, err = cl.PutParameter(ctx, &ssm.PutParameterInput{
									Name:  aws.String(fmt.Sprintf("/bench/write/c%d/p%d", id, i%50)),
									Value: aws.String(fmt.Sprint(i)), Type: types.ParameterTypeString, Overwrite: aws.Bool(true),
								})
							} else {
								_, err = cl.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(fmt.Sprintf("/bench/read/p%03d", i%readable))})
							}
							if err != nil {
								failed.Add(1)
								firstErr.CompareAndSwap(nil, err.Error())
							}
						}
					})
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
					cpu.report(b)
					prof()
					if f := failed.Load(); f > 0 {
						b.Errorf("%d of %d requests failed; the first: %v", f, b.N, firstErr.Load())
					}
				})
			}
		})
	}
}

// startProfiles asks every node in debug (its --debug-listen address) for
// a CPU profile of the next few seconds, written under dir; the function
// it returns waits for them. Nothing without dir.
func startProfiles(b *testing.B, dir string, debug map[*node]string) func() {
	if dir == "" || b.N == 1 {
		return func() {}
	}
	secs := envInt(b, "PARAMSTORE_BENCH_PPROF_SECONDS", 5)
	var wg sync.WaitGroup
	for n, addr := range debug {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := filepath.Join(dir, unsafeChars.ReplaceAllString(b.Name(), "_")+"-"+n.id+".pprof")
			resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs))
			if err != nil {
				b.Logf("profile of %s: %v", n.id, err)
				return
			}
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			if err == nil {
				err = os.WriteFile(out, raw, 0o644)
			}
			if err != nil {
				b.Logf("profile of %s: %v", n.id, err)
			}
		}()
	}
	return wg.Wait
}

// nodeCPU is the CPU time (user + system) the nodes' processes spent
// during a benchmark, per request: what the machine's load does not
// inflate, unlike req/s. The leader's and the followers' (their mean) are
// reported apart: a follower forwards writes, the leader proposes them.
type nodeCPU struct {
	leader    *node
	nodes     []*node
	pids      []int
	start     []time.Duration
	available bool
}

func startCPU(c *cluster, leader *node) *nodeCPU {
	m := &nodeCPU{leader: leader, available: true}
	for _, n := range c.nodes {
		srv := n.server()
		if srv == nil {
			m.available = false
			return m
		}
		t, err := procCPU(srv.Pid())
		if err != nil {
			m.available = false
			return m
		}
		m.nodes, m.pids, m.start = append(m.nodes, n), append(m.pids, srv.Pid()), append(m.start, t)
	}
	return m
}

// report adds leader-cpu-µs/op and, with followers, follower-cpu-µs/op.
func (m *nodeCPU) report(b *testing.B) {
	if !m.available || b.N == 0 {
		return
	}
	var follower time.Duration
	var followers int
	for i, n := range m.nodes {
		t, err := procCPU(m.pids[i])
		if err != nil {
			return
		}
		used := t - m.start[i]
		if n == m.leader {
			b.ReportMetric(float64(used.Microseconds())/float64(b.N), "leader-cpu-µs/op")
		} else {
			follower += used
			followers++
		}
	}
	if followers > 0 {
		b.ReportMetric(float64(follower.Microseconds())/float64(followers)/float64(b.N), "follower-cpu-µs/op")
	}
}

// procCPU is the user + system CPU time of process pid so far, from
// /proc/PID/stat (Linux; an error elsewhere).
func procCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: state is the 3rd field, utime the 14th, stime the 15th.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	// Clock ticks: USER_HZ is 100 on every Linux this runs on.
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}
