package api_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"golang.org/x/sys/unix"

	"github.com/paramstore/paramstore/internal/api"
	"github.com/paramstore/paramstore/internal/servertest"
)

// fanoutRig is a server with n streams of /fan over real loopback
// connections. Its methods report failures with Error (they run in
// goroutines too): callers stop on b.Failed. The streams' client sockets are plain descriptors, not in
// Go's poller, and nobody reads them while a benchmark's clock runs (they
// hold the pages; empty takes them out): what the process spends on a
// page is the server's, and the kernel's work in the server's write.
type fanoutRig struct {
	b     *testing.B
	c     *ssm.Client
	fds   []int
	ready []int // bytes waiting in each stream's socket, as last seen
	seen  int   // bytes taken out of the sockets
}

func newFanoutRig(b *testing.B, n int) *fanoutRig {
	_, ep := servertest.Start(b)
	r := &fanoutRig{b: b, c: servertest.Client(b, ep, "us-east-1"), ready: make([]int, n)}
	r.put("/fan/first")
	req, _ := http.NewRequest(http.MethodGet, ep+"/_paramstore/changes?path=/fan&since=1&wait=60&stream=true", nil)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=00")
	var raw strings.Builder
	req.Write(&raw)
	addr, err := net.ResolveTCPAddr("tcp", strings.TrimPrefix(ep, "http://"))
	if err != nil {
		b.Fatal(err)
	}
	sa := &unix.SockaddrInet4{Port: addr.Port}
	copy(sa.Addr[:], addr.IP.To4())
	for range n {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { unix.Close(fd) })
		if err := unix.Connect(fd, sa); err != nil {
			b.Fatal(err)
		}
		if _, err := unix.Write(fd, []byte(raw.String())); err != nil {
			b.Fatal(err)
		}
		r.fds = append(r.fds, fd)
	}
	waitMetric(b, ep, "paramstore_changes_watchers", strconv.Itoa(n))
	r.waitGrew() // each stream's head and first page
	r.empty()
	if b.Failed() {
		b.FailNow()
	}
	return r
}

func (r *fanoutRig) put(name string) time.Duration {
	start := time.Now()
	if _, err := r.c.PutParameter(context.Background(), &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("v"),
		Type: types.ParameterTypeString, Overwrite: aws.Bool(true)}); err != nil {
		r.b.Error(err)
	}
	return time.Since(start)
}

// waitGrew waits until every stream's socket holds more than it did.
func (r *fanoutRig) waitGrew() {
	for i := 0; i < len(r.fds); {
		v, err := unix.IoctlGetInt(r.fds[i], unix.SIOCINQ)
		if err != nil || r.b.Failed() {
			r.b.Error(err)
			return
		}
		if v > r.ready[i] {
			r.ready[i] = v
			i++
			continue
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// empty takes what waits in the streams' sockets out.
func (r *fanoutRig) empty() {
	buf := make([]byte, 64<<10)
	for _, fd := range r.fds {
		v, _ := unix.IoctlGetInt(fd, unix.SIOCINQ)
		for v > 0 {
			m, err := unix.Read(fd, buf[:min(v, len(buf))])
			if err != nil {
				r.b.Error(err)
				return
			}
			v -= m
			r.seen += m
		}
	}
	clear(r.ready)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkChangeStreamFanout measures what the server spends to hand one
// change to each of n streams over real loopback connections: one op is a
// PutParameter under the watched path, until every stream's socket has
// the page. cpu-µs/watcher is the process's CPU for the op, less that of
// a put nobody watches (put-cpu-µs, measured first), over n. ns/op is the
// fan-out's wall time, the put included.
func BenchmarkChangeStreamFanout(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run("watchers="+strconv.Itoa(n), func(b *testing.B) {
			r := newFanoutRig(b, n)
			const quiet = 50
			c0 := cpuTime()
			for i := range quiet {
				r.put(fmt.Sprintf("/elsewhere/p%d", i))
			}
			base := (cpuTime() - c0) / quiet

			var spent time.Duration
			b.ResetTimer()
			for i := range b.N {
				if i%100 == 0 {
					b.StopTimer()
					r.empty()
					b.StartTimer()
				}
				c0 := cpuTime()
				r.put(fmt.Sprintf("/fan/p%d", i%100))
				r.waitGrew()
				spent += cpuTime() - c0
				if b.Failed() {
					b.FailNow()
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((spent-time.Duration(b.N)*base).Nanoseconds())/1e3/float64(b.N)/float64(n), "cpu-µs/watcher")
			b.ReportMetric(float64(base.Microseconds()), "put-cpu-µs")
			if r.empty(); r.seen == 0 {
				b.Fatal("the streams got nothing")
			}
		})
	}
}

// BenchmarkChangeStreamPutDuringFanout measures PutParameter latency (of
// a path nobody watches) while changes are fanned out to 5,000 streams
// back to back, against the same without streams: the write path must not
// wait for the fan-out. Reports p50 and p99 in ms, and those of a
// GetParameter after each put (no disk: the scheduling alone). With
// streams it runs twice on the same server, the answer workers' pauses
// for writes in flight off and on (pace=off, pace=on): an A/B in one
// invocation, interleaved with -count.
func BenchmarkChangeStreamPutDuringFanout(b *testing.B) {
	for _, n := range []int{0, 5000} {
		b.Run("watchers="+strconv.Itoa(n), func(b *testing.B) {
			r := newFanoutRig(b, n)
			if n == 0 {
				putsDuringFanout(b, r)
				return
			}
			for _, pace := range []string{"off", "on"} {
				b.Run("pace="+pace, func(b *testing.B) {
					api.SetAnswerPacing(b, pace == "on")
					putsDuringFanout(b, r)
				})
			}
		})
	}
}

func putsDuringFanout(b *testing.B, r *fanoutRig) {
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() { // fan-outs, back to back
		defer close(stopped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if b.Failed() || r.b.Failed() {
				return
			}
			if i%100 == 99 {
				r.empty()
			}
			r.put(fmt.Sprintf("/fan/p%d", i%100))
			r.waitGrew()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	var lat, get []time.Duration
	sched0 := schedLatencies()
	b.ResetTimer()
	for i := range b.N {
		lat = append(lat, r.put(fmt.Sprintf("/elsewhere/p%d", i%100)))
		start := time.Now()
		if _, err := r.c.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/fan/first")}); err != nil {
			b.Fatal(err)
		}
		get = append(get, time.Since(start))
		time.Sleep(5 * time.Millisecond)
		if b.Failed() || r.b.Failed() {
			break
		}
	}
	b.StopTimer()
	sched := schedLatencies().sub(sched0)
	close(stop)
	<-stopped
	if b.Failed() || r.b.Failed() {
		b.FailNow()
	}
	slices.Sort(lat)
	slices.Sort(get)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1e3, "put-p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1e3, "put-p99-ms")
	b.ReportMetric(float64(get[len(get)/2].Microseconds())/1e3, "get-p50-ms")
	b.ReportMetric(float64(get[len(get)*99/100].Microseconds())/1e3, "get-p99-ms")
	b.ReportMetric(sched.quantile(0.99)*1e3, "sched-p99-ms")
	b.ReportMetric(sched.quantile(0.999)*1e3, "sched-p999-ms")
}

// schedHist is the Go runtime's histogram of how long goroutines waited,
// runnable, for a processor (/sched/latencies:seconds), the whole
// process's: the puts' goroutines' among them.
type schedHist struct {
	counts  []uint64
	buckets []float64
}

func schedLatencies() schedHist {
	s := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(s)
	h := s[0].Value.Float64Histogram()
	return schedHist{counts: slices.Clone(h.Counts), buckets: h.Buckets}
}

func (h schedHist) sub(o schedHist) schedHist {
	d := schedHist{counts: slices.Clone(h.counts), buckets: h.buckets}
	for i := range d.counts {
		d.counts[i] -= o.counts[i]
	}
	return d
}

// quantile is the upper bound of the bucket that holds quantile q.
func (h schedHist) quantile(q float64) float64 {
	var total uint64
	for _, c := range h.counts {
		total += c
	}
	want := uint64(q * float64(total))
	var sum uint64
	for i, c := range h.counts {
		if sum += c; sum > want {
			return h.buckets[i+1]
		}
	}
	return h.buckets[len(h.buckets)-1]
}
