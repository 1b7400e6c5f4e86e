package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// BenchmarkThroughput measures requests/s of a 1-node and a 3-node cluster
// (without fault injection) with 8 x GOMAXPROCS concurrent clients spread
// over the nodes: PutParameter (each write commits through raft), GetParameter
// with the default linearizable reads, and with stale (local) reads. It is a
// measurement, not an assertion: go test -run '^$' -bench Throughput
// ./tests/cluster/ (make cluster-long runs it too).
func BenchmarkThroughput(b *testing.B) {
	for _, size := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d", size), func(b *testing.B) {
			c := startClusterOpts(b, size, false)
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
					if f := failed.Load(); f > 0 {
						b.Errorf("%d of %d requests failed; the first: %v", f, b.N, firstErr.Load())
					}
				})
			}
		})
	}
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
