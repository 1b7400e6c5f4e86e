package raftstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/paramstore/paramstore/internal/store"
)

// BenchmarkNodePut is a single node's write path below the service: 64
// concurrent writers, each overwriting its own 16 parameters, each write a
// planning read of the head record (a point read) and a compare-and-set
// put through raft (log append with its fsyncs, the state machine's apply,
// the deferred commit every second). Per write: allocations, and the
// CPU of the whole node and the bytes it wrote (ns/op is wall time
// shared by the writers). Run
// with go test -run '^$' -bench NodePut -benchmem ./internal/store/raftstore/
func BenchmarkNodePut(b *testing.B) {
	cfg := Default(b.TempDir())
	cfg.Logger = slog.New(slog.DiscardHandler)
	n, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		b.Fatal(err)
	}
	var writers atomic.Int64
	b.SetParallelism(32) // 64 writers on 2 CPUs, as the bench's c=64
	b.ReportAllocs()
	cpu0, w0 := processCPU(b), blocksWritten(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := writers.Add(1)
		for i := 0; pb.Next(); i++ {
			if err := overwrite(n, fmt.Sprintf("/bench/w%d/p%d", w, i%16)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(blocksWritten(b)-w0)*512/float64(b.N), "wbytes/op")
}

// BenchmarkClusterPut is BenchmarkNodePut's write on an in-process 3-node
// cluster, with 16 writers spread over the nodes as tests/cluster's
// BenchmarkThroughput spreads its clients (two thirds of the writes
// forwarded by a follower). cpu-ns/op is the CPU of the three nodes per
// write: what the cluster costs the machine beyond one node. Run with
// go test -run '^$' -bench ClusterPut -benchmem ./internal/store/raftstore/
func BenchmarkClusterPut(b *testing.B) {
	c := makeClusterWith(b, 3, func(cfg *Config) { cfg.Logger = slog.New(slog.DiscardHandler) })
	c.leader()
	var writers atomic.Int64
	b.SetParallelism(8) // 16 writers on 2 CPUs
	b.ReportAllocs()
	cpu0 := processCPU(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := writers.Add(1)
		n := c.members[int(w)%len(c.members)].n
		for i := 0; pb.Next(); i++ {
			name := fmt.Sprintf("/bench/w%d/p%d", w, i%16)
			err := overwrite(n, name)
			// A leader change (a loaded machine) fails the planning
			// read: the write goes again, as a client's would.
			for try := 0; errors.Is(err, store.ErrUnavailable) && try < 100; try++ {
				time.Sleep(100 * time.Millisecond)
				err = overwrite(n, name)
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// overwrite writes parameter name through n as the service does: a
// planning read of the head record (a point read of a write's plan), and
// a compare-and-set put of the next version that prunes the previous one.
func overwrite(n *Node, name string) error {
	var old *store.Parameter
	err := n.View(store.WithPointReads(store.WithWritePlan(context.Background())), func(r *store.Reader) error {
		var err error
		old, err = r.Param(tenancy, name)
		return err
	})
	if err != nil {
		return err
	}
	c := putCmd(name, 1, 0)
	if old != nil {
		c = putCmd(name, old.Latest.Version+1, old.ModIndex)
		c.Param.Versions = []int64{old.Latest.Version + 1}
		c.Prune = []int64{old.Latest.Version}
	}
	c.Param.Latest.Value = benchValue
	return n.Apply(context.Background(), c)
}

var benchValue = fmt.Sprintf("%064d", 0)

// processCPU is the CPU time (user and system) of this process so far:
// what the machine's other load does not inflate the way it does wall time.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLogAppend is the raft log's append of a batch of 12 entries of 300
// bytes (the size of a compact put command), as raft's leader loop makes
// at c=64, to a log with a history: 20k entries written and the first 10k
// truncated, as after snapshots. Besides the time, which is mostly the
// fdatasyncs, it reports the bytes written per batch
// (wbytes/op, from the process's block output count), which the load of
// the machine does not change.
//
// The sub-benchmarks are the two formats of the log (logstore.go): bolt
// (raft.db: a bbolt commit, two fdatasyncs) and wal (raft-wal: one write
// and one fdatasync of the tail segment).
func BenchmarkLogAppend(b *testing.B) {
	for _, kind := range []string{LogBolt, LogWAL} {
		b.Run(kind, func(b *testing.B) { benchmarkLogAppend(b, kind) })
	}
}

func benchmarkLogAppend(b *testing.B, kind string) {
	s, err := openLog(b.TempDir(), kind, hclog.NewNullLogger())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := make([]byte, 300)
	index := uint64(1)
	appendBatch := func() {
		logs := make([]*raft.Log, 12)
		for i := range logs {
			logs[i] = &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}
			index++
		}
		if err := s.StoreLogs(logs); err != nil {
			b.Fatal(err)
		}
	}
	for range 20000 / 12 {
		appendBatch()
	}
	if err := s.DeleteRange(1, 10000); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	w0 := blocksWritten(b)
	b.ResetTimer()
	for range b.N {
		appendBatch()
	}
	b.StopTimer()
	b.ReportMetric(float64(blocksWritten(b)-w0)*512/float64(b.N), "wbytes/op")
}

// blocksWritten is the process's count of 512-byte blocks written.
func blocksWritten(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Oublock
}

// BenchmarkWALSegments: append batches of 16 1-KiB entries (a put's
// command with its audit intent) to the WAL, over several segments, with
// segments made from the spare of written zeros and with raft-wal's
// preallocated ones (spare=off): the CPU per batch (user + system: most of
// it the sync) and the wall time per batch (the sync's latency). Run the
// two alternately (-count) on a shared machine.
func BenchmarkWALSegments(b *testing.B) {
	for _, spare := range []bool{true, false} {
		b.Run(fmt.Sprintf("spare=%v", spare), func(b *testing.B) {
			s, err := openWAL(filepath.Join(b.TempDir(), walDir), hclog.NewNullLogger())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if !spare {
				s.spare.Close() // (the first segment may be made from it)
			}
			data := make([]byte, 1024)
			index := uint64(1)
			logs := make([]*raft.Log, 16)
			b.ReportAllocs()
			var ru0, ru1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			var lat []time.Duration
			for b.Loop() {
				for i := range logs {
					logs[i] = &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}
					index++
				}
				start := time.Now()
				if err := s.StoreLogs(logs); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
			b.ReportMetric(float64(s.spare.made.Load()), "spare-segments")
		})
	}
}
