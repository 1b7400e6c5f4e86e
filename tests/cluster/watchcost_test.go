package cluster_test

import (
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
)

// BenchmarkWatchClientCost measures what the client package spends to
// receive one change on one watch: the stream's read, the page's parse, the
// cache expiry and the delivery on the Watch channel, over real loopback
// connections to a real server (one node of the harness, a separate
// process, so this process's CPU is the client's alone).
//
// PARAMSTORE_WATCHCOST_N watches of /cost (default 1000, 10 per
// client.Client as in BenchmarkFleet) follow the node; each op is one
// PutParameter under /cost and the wait until every watch has it. Besides
// ns/op (the fan-out's wall time, which load inflates) it reports, per
// watch per change, this process's CPU (getrusage: user+system, less that
// of the PutParameter itself, measured without watchers) and its heap
// allocations, which load does not inflate:
//
//	go test -run '^$' -bench WatchClientCost -benchtime 200x ./tests/cluster/
func BenchmarkWatchClientCost(b *testing.B) {
	watches := envInt(b, "PARAMSTORE_WATCHCOST_N", 1000)
	const perClient = 10
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
	putCPU := (rusageCPU(b) - cpu0) / basePuts
	putAllocs := (mallocs() - m0) / basePuts

	// The watches: each counts what it receives; the last of an op's
	// change signals.
	var (
		pending atomic.Int64
		done    = make(chan struct{}, 1)
		ready   atomic.Int64
	)
	creds := c.credentials()
	var next atomic.Uint32
	transport := &http.Transport{
		MaxIdleConnsPerHost: watches + 64,
		DisableCompression:  true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			// Spread the source addresses, as BenchmarkFleet does.
			d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+next.Add(1)%16))}}
			return d.DialContext(ctx, network, addr)
		},
	}
	hc := &http.Client{Transport: transport}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
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
		b.Cleanup(func() { cl.Close() })
		for range min(perClient, watches-i) {
			ch, err := cl.Watch(ctx, "/cost")
			if err != nil {
				b.Fatal(err)
			}
			go func() {
				warm := false
				for ch := range ch {
					if !strings.HasPrefix(ch.Name, "/cost/op/") {
						if !warm && strings.HasPrefix(ch.Name, "/cost/ready/") {
							warm = true
							ready.Add(1)
						}
						continue
					}
					if pending.Add(-1) == 0 {
						done <- struct{}{}
					}
				}
			}()
		}
	}
	// Every watch is following the stream once each has seen a change.
	deadline := time.Now().Add(5 * time.Minute)
	for i := 0; ready.Load() < int64(watches); i++ {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d watches following after 5 minutes", ready.Load(), watches)
		}
		put(fmt.Sprintf("/cost/ready/%d", i))
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // the last warm-up pages, if any
	runtime.GC()

	b.ResetTimer()
	cpu0, m0 = rusageCPU(b), mallocs()
	for i := range b.N {
		pending.Store(int64(watches))
		put(fmt.Sprintf("/cost/op/%d", i))
		select {
		case <-done:
		case <-time.After(time.Minute):
			b.Fatalf("op %d: %d of %d watches did not get the change within a minute", i, pending.Load(), watches)
		}
	}
	b.StopTimer()
	cpu, allocs := rusageCPU(b)-cpu0, mallocs()-m0
	per := float64(b.N) * float64(watches)
	b.ReportMetric(float64(cpu-time.Duration(b.N)*putCPU)/1e3/per, "cpu-µs/watch-change")
	b.ReportMetric((float64(allocs)-float64(b.N)*float64(putAllocs))/per, "allocs/watch-change")
}

// rusageCPU is this process's user+system CPU time so far.
func rusageCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}
