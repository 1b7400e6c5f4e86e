package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/paramstore/paramstore/client"
	"github.com/paramstore/paramstore/internal/awsreq"
)

// BenchmarkWatchClientCost measures what the client package spends to
// receive one change on one watch: the stream's read, the page's parse, the
// cache expiry and the delivery on the Watch channel, over real loopback
// connections to a real server (one node of the harness, a separate
// process, so this process's CPU is the client's alone).
//
// PARAMSTORE_WATCHCOST_N watches of /cost (default 1000) follow the node;
// each op is one PutParameter under /cost and the wait until every watch
// has it. Besides ns/op (the fan-out's wall time, which load inflates) it
// reports, per watch per change, this process's CPU (getrusage: user+system,
// less that of the PutParameter itself, measured without watchers) and its
// heap allocations, which load does not inflate:
//
//	go test -run '^$' -bench WatchClientCost -benchtime 200x ./tests/cluster/
//
// Two kinds of watchers, one after the other on the same node:
//
//   - client: client.Watch (10 watches per client.Client, as in
//     BenchmarkFleet), a consumer goroutine per watch;
//   - raw-stream: the floor under it, the same signed stream request on a
//     bare TCP connection read by a goroutine into a reused buffer, the
//     changed names cut out of the bytes by hand and sent on a channel to a
//     consumer goroutine (no net/http, no parse, no cache, no watchdog).
func BenchmarkWatchClientCost(b *testing.B) {
	watches := envInt(b, "PARAMSTORE_WATCHCOST_N", 1000)
	if _, err := raiseNofile(); err != nil {
		b.Fatal(err)
	}
	c := startClusterOpts(b, 1, false)
	c.converge(60 * time.Second)
	n := c.leader(30 * time.Second)
	writer := c.client(n, false, 10*time.Second)
	put := func(name string) {
		if _, err := writer.PutParameter(context.Background(), &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("v"), Type: "String", Overwrite: aws.Bool(true)}); err != nil {
			b.Fatal(err)
		}
	}
	// The writer's own cost, to take out of the figures below.
	const basePuts = 50
	for i := range 5 {
		put(fmt.Sprintf("/cost/warm/%d", i))
	}
	cpu0, m0 := rusageCPU(b), mallocs()
	for i := range basePuts {
		put(fmt.Sprintf("/cost/base/%d", i))
	}
	wc := &watchCost{watches: watches, put: put, putCPU: (rusageCPU(b) - cpu0) / basePuts, putAllocs: (mallocs() - m0) / basePuts}
	creds := c.credentials()
	var src atomic.Uint32
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		// Spread the source addresses, as BenchmarkFleet does.
		d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+src.Add(1)%16))}}
		return d.DialContext(ctx, network, addr)
	}

	wc.run(b, "client", func(ctx context.Context, deliver func() func(string)) {
		const perClient = 10
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: watches + 64, DisableCompression: true, DialContext: dial}}
		for i := 0; i < watches; i += perClient {
			cl, err := client.New(ctx, client.Config{
				Endpoints: []string{n.endpoint()}, Region: "us-east-1",
				Credentials:         credentials.NewStaticCredentialsProvider(creds.ID, creds.Secret, ""),
				HTTPClient:          hc,
				HealthCheckInterval: -1,
			})
			if err != nil {
				b.Fatal(err)
			}
			context.AfterFunc(ctx, func() { cl.Close() })
			for range min(perClient, watches-i) {
				ch, err := cl.Watch(ctx, "/cost")
				if err != nil {
					b.Fatal(err)
				}
				go func(deliver func(string)) {
					for ch := range ch {
						deliver(ch.Name)
					}
				}(deliver())
			}
		}
	})

	wc.run(b, "raw-stream", func(ctx context.Context, deliver func() func(string)) {
		signer := awsreq.NewSigner(credentials.NewStaticCredentialsProvider(creds.ID, creds.Secret, ""), "us-east-1", nil)
		url := n.endpoint() + "/_paramstore/changes?path=%2Fcost&recursive=true&since=1&wait=50&stream=true"
		for range watches {
			req, err := signer.Get(ctx, url)
			if err != nil {
				b.Fatal(err)
			}
			conn, err := dial(ctx, "tcp", req.URL.Host)
			if err != nil {
				b.Fatal(err)
			}
			context.AfterFunc(ctx, func() { conn.Close() })
			if err := req.Write(conn); err != nil {
				b.Fatal(err)
			}
			names := make(chan string, 64)
			go func(deliver func(string)) {
				for name := range names {
					deliver(name)
				}
			}(deliver())
			go func() {
				defer close(names)
				buf := make([]byte, 4096)
				var acc []byte // bytes after the last complete line
				for {
					n, err := conn.Read(buf)
					if err != nil {
						return
					}
					acc = append(acc, buf[:n]...)
					end := bytes.LastIndexByte(acc, '\n')
					if end < 0 {
						continue
					}
					lines := acc[:end]
					for {
						i := bytes.Index(lines, []byte(`"Name":"`))
						if i < 0 {
							break
						}
						lines = lines[i+len(`"Name":"`):]
						j := bytes.IndexByte(lines, '"')
						if j < 0 {
							break
						}
						names <- string(lines[:j])
						lines = lines[j:]
					}
					acc = acc[:copy(acc, acc[end+1:])]
				}
			}()
		}
	})
}

// watchCost runs the kinds of watchers of BenchmarkWatchClientCost.
type watchCost struct {
	watches   int
	put       func(name string)
	putCPU    time.Duration
	putAllocs uint64
	kinds     int
}

// run measures, as sub-benchmark name, the watchers that start starts:
// each calls a function of its own from deliver() with every changed name
// it receives, until ctx is done. They are started once (b.Run may call
// its function more than once) and stopped when run returns.
func (wc *watchCost) run(b *testing.B, name string, start func(ctx context.Context, deliver func() func(string))) {
	wc.kinds++
	readyPrefix := fmt.Sprintf("/cost/ready%d/", wc.kinds)
	opPrefix := fmt.Sprintf("/cost/op%d/", wc.kinds)
	var (
		pending atomic.Int64
		done    = make(chan struct{}, 1)
		ready   atomic.Int64
		ops     int
	)
	deliver := func() func(string) {
		var warm atomic.Bool
		return func(name string) {
			switch {
			case strings.HasPrefix(name, opPrefix):
				if pending.Add(-1) == 0 {
					done <- struct{}{}
				}
			case strings.HasPrefix(name, readyPrefix):
				if !warm.Swap(true) {
					ready.Add(1)
				}
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := false
	b.Run(name, func(b *testing.B) {
		if !started {
			started = true
			start(ctx, deliver)
			// Every watcher is following the stream once each has seen a
			// change.
			deadline := time.Now().Add(5 * time.Minute)
			for i := 0; ready.Load() < int64(wc.watches); i++ {
				if time.Now().After(deadline) {
					b.Fatalf("%d of %d watchers following after 5 minutes", ready.Load(), wc.watches)
				}
				wc.put(fmt.Sprintf("%s%d", readyPrefix, i))
				time.Sleep(200 * time.Millisecond)
			}
			time.Sleep(time.Second) // the last warm-up pages, if any
		}
		runtime.GC()
		b.ResetTimer()
		user0, sys0 := rusageUserSys(b)
		m0 := mallocs()
		for range b.N {
			pending.Store(int64(wc.watches))
			wc.put(fmt.Sprintf("%s%d", opPrefix, ops))
			select {
			case <-done:
			case <-time.After(time.Minute):
				b.Fatalf("op %d: %d of %d watchers did not get the change within a minute", ops, pending.Load(), wc.watches)
			}
			ops++
		}
		b.StopTimer()
		user, sys := rusageUserSys(b)
		user, sys = user-user0, sys-sys0
		allocs := mallocs() - m0
		per := float64(b.N) * float64(wc.watches)
		b.ReportMetric(float64(user+sys-time.Duration(b.N)*wc.putCPU)/1e3/per, "cpu-µs/watch-change")
		// (user and system time apart, the writer's share not taken out)
		b.ReportMetric(float64(user)/1e3/per, "user-µs/watch-change")
		b.ReportMetric(float64(sys)/1e3/per, "sys-µs/watch-change")
		b.ReportMetric((float64(allocs)-float64(b.N)*float64(wc.putAllocs))/per, "allocs/watch-change")
	})
}

// rusageCPU is this process's user+system CPU time so far.
func rusageCPU(b *testing.B) time.Duration {
	u, s := rusageUserSys(b)
	return u + s
}

// rusageUserSys is this process's user and system CPU time so far.
func rusageUserSys(b *testing.B) (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}
