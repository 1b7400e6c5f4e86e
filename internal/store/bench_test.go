package store

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Benchmarks of the state machine's hot functions: applying a batch of
// writes (the raft FSM's call; one bbolt transaction and its fsyncs) and a
// point read. Run with go test -run '^$' -bench . -benchmem ./internal/store/

// BenchmarkApplyBatch applies batches of 64 overwrites of distinct
// parameters, as a group commit at concurrency 64 does: committed with
// each batch, and deferred (batch.go) with a commit every 16 batches.
func BenchmarkApplyBatch(b *testing.B) {
	b.Run("commit=batch", func(b *testing.B) { benchmarkApplyBatch(b, 0, (*Command).Marshal) })
	b.Run("commit=deferred", func(b *testing.B) { benchmarkApplyBatch(b, 16, (*Command).Marshal) })
	b.Run("commit=deferred/compact", func(b *testing.B) { benchmarkApplyBatch(b, 16, (*Command).MarshalCompact) })
}

func benchmarkApplyBatch(b *testing.B, commitEvery int, marshal func(*Command) ([]byte, error)) {
	d, err := OpenOptions(filepath.Join(b.TempDir(), "state.db"), Options{BatchLimit: commitEvery * 64})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	const batch = 64
	var index uint64
	modIndex := map[string]uint64{}
	version := map[string]int64{}
	b.ReportAllocs()
	for b.Loop() {
		entries := make([]Entry, batch)
		for i := range entries {
			index++
			name := fmt.Sprintf("/bench/p%d", i)
			v := version[name] + 1
			cmd := &Command{Op: OpPut, Tenancy: testTenancy, Name: name, Create: v == 1, Expect: modIndex[name],
				Param: &Parameter{Name: name, Versions: []int64{v},
					Latest: Version{Version: v, Type: "String", Value: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Tier: "Standard", Modified: 1}}}
			data, err := marshal(cmd)
			if err != nil {
				b.Fatal(err)
			}
			entries[i] = Entry{Index: index, Term: 1, Data: data}
			modIndex[name], version[name] = index, v
		}
		for i, err := range d.ApplyBatch(entries) {
			if err != nil {
				b.Fatalf("entry %d: %v", i, err)
			}
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkReaderParam reads one parameter's head record in a read
// transaction, as GetParameter does.
func BenchmarkReaderParam(b *testing.B) {
	d, err := Open(filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	cmd := &Command{Op: OpPut, Tenancy: testTenancy, Name: "/bench/p", Create: true,
		Param: &Parameter{Name: "/bench/p", Versions: []int64{1}, Latest: Version{Version: 1, Type: "String", Value: "v", Tier: "Standard"}}}
	data, _ := cmd.Marshal()
	if err := d.ApplyBatch([]Entry{{Index: 1, Data: data}})[0]; err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		err := d.View(ctx, func(r *Reader) error {
			p, err := r.Param(testTenancy, "/bench/p")
			if p == nil && err == nil {
				b.Fatal("not found")
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReaderParamBuffered reads a head record written by a deferred
// command not yet committed: through the read buffer (WithPointReads).
func BenchmarkReaderParamBuffered(b *testing.B) {
	d, err := OpenOptions(filepath.Join(b.TempDir(), "state.db"), Options{BatchLimit: 1000})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	cmd := &Command{Op: OpPut, Tenancy: testTenancy, Name: "/bench/p", Create: true,
		Param: &Parameter{Name: "/bench/p", Versions: []int64{1}, Latest: Version{Version: 1, Type: "String", Value: "v", Tier: "Standard"}}}
	data, _ := cmd.Marshal()
	if err := d.ApplyBatch([]Entry{{Index: 1, Data: data}})[0]; err != nil {
		b.Fatal(err)
	}
	ctx := WithPointReads(context.Background())
	b.ReportAllocs()
	for b.Loop() {
		err := d.View(ctx, func(r *Reader) error {
			p, err := r.Param(testTenancy, "/bench/p")
			if p == nil && err == nil {
				b.Fatal("not found")
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if !d.Pending() {
		b.Fatal("the point reads committed")
	}
}

// BenchmarkCommandCodec encodes and decodes a put command as proposed
// (with an ID and a few retained versions): JSON and the compact form.
func BenchmarkCommandCodec(b *testing.B) {
	c := &Command{Op: OpPut, ID: NewCommandID(time.Unix(1, 0)), Tenancy: testTenancy, Name: "/loadgen/p42", Expect: 1234, Time: 1_700_000_000_000,
		Param: &Parameter{Name: "/loadgen/p42", Versions: []int64{1, 2, 3, 4, 5},
			Latest: Version{Version: 5, Type: "String", Value: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
				DataType: "text", Tier: "Standard", Modified: 1_700_000_000_000, User: "arn:aws:iam::123456789012:root"}}}
	for _, enc := range []struct {
		name    string
		marshal func(*Command) ([]byte, error)
	}{{"json", (*Command).Marshal}, {"compact", (*Command).MarshalCompact}} {
		b.Run(enc.name+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := enc.marshal(c); err != nil {
					b.Fatal(err)
				}
			}
		})
		data, _ := enc.marshal(c)
		b.Run(enc.name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := UnmarshalCommand(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDeferredCommitCycle applies entries in batches of 16 (what raft
// hands over at concurrency 64 today) and commits every `every` entries,
// as the commit loop does on its interval: one op is one such cycle. It
// reports the CPU per entry (apply and commit), the wall time of one
// commit, during which apply waits, and the pages written per entry.
// Overwrites cycle over 1000 names; new names never repeat.
func BenchmarkDeferredCommitCycle(b *testing.B) {
	for _, mode := range []string{"overwrite", "new"} {
		for _, every := range []int{320, 1600, 4800} {
			b.Run(fmt.Sprintf("%s/every=%d", mode, every), func(b *testing.B) {
				d, err := OpenOptions(filepath.Join(b.TempDir(), "state.db"), Options{BatchLimit: 100000})
				if err != nil {
					b.Fatal(err)
				}
				defer d.Close()
				var index uint64
				modIndex := map[string]uint64{}
				version := map[string]int64{}
				next := 0
				var commitWall, cpu time.Duration
				st := d.db.Stats()
				writes0 := st.TxStats.GetWrite()
				b.ReportAllocs()
				for b.Loop() {
					c0 := cpuTime()
					for done := 0; done < every; done += 16 {
						entries := make([]Entry, 16)
						for i := range entries {
							index++
							name := fmt.Sprintf("/bench/p%d", next)
							if next++; mode == "overwrite" && next == 1000 {
								next = 0
							}
							v := version[name] + 1
							cmd := &Command{Op: OpPut, ID: NewCommandID(time.Now()), Tenancy: testTenancy, Name: name, Create: v == 1, Expect: modIndex[name],
								Param: &Parameter{Name: name, Versions: []int64{v},
									Latest: Version{Version: v, Type: "String", Value: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Tier: "Standard", Modified: 1}}}
							data, err := cmd.MarshalCompact()
							if err != nil {
								b.Fatal(err)
							}
							entries[i] = Entry{Index: index, Term: 1, Data: data}
							if mode == "overwrite" {
								modIndex[name], version[name] = index, v
							}
						}
						for i, err := range d.ApplyBatch(entries) {
							if err != nil {
								b.Fatalf("entry %d: %v", i, err)
							}
						}
					}
					start := time.Now()
					if err := d.Commit(); err != nil {
						b.Fatal(err)
					}
					commitWall += time.Since(start)
					cpu += cpuTime() - c0
				}
				n := float64(b.N)
				b.ReportMetric(float64(cpu.Microseconds())/n/float64(every), "cpu-µs/entry")
				b.ReportMetric(float64(commitWall.Microseconds())/n/1e3, "commit-ms")
				b.ReportMetric(float64(commitWall.Microseconds())/n/float64(every), "commit-µs/entry")
				// The pages the commits wrote: the commit's write
				// amplification, which the load of the machine does not
				// change.
				st = d.db.Stats()
				b.ReportMetric(float64(st.TxStats.GetWrite()-writes0)/n/float64(every), "pagewrites/entry")
			})
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
