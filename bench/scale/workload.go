package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paramstore/paramstore/bench/internal/benchutil"
)

// layout names the parameters of one run: the first wide of them sit
// directly under /scale/wide, the rest spread over 100 apps x 37 services.
type layout struct {
	n, wide   int
	valueSize int
}

const widePath = "/scale/wide"

func newLayout(n, wide, valueSize int) layout {
	return layout{n: n, wide: min(n, wide), valueSize: valueSize}
}

func (l layout) name(i int) string {
	if i < l.wide {
		return fmt.Sprintf("%s/p%05d", widePath, i)
	}
	return fmt.Sprintf("/scale/app%d/svc%d/p%d", i%100, i%37, i)
}

// secure picks about 5% of the parameters, independently of the app and
// service a parameter falls in (i%20 would never meet app7).
func secure(i int) bool { return mix(uint64(i))%20 == 0 }

// versions is how many versions parameter i gets: every 10th one is
// overwritten four times.
func versions(i int) int {
	if i%10 == 0 {
		return 5
	}
	return 1
}

// mix is splitmix64's finalizer.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (l layout) value(i, version int) string {
	v := "v" + strconv.Itoa(i) + "." + strconv.Itoa(version) + "."
	if len(v) >= l.valueSize {
		return v[:l.valueSize]
	}
	return v + strings.Repeat("x", l.valueSize-len(v))
}

// totals counts what a full load writes.
func (l layout) totals() (writes, secures int) {
	for i := range l.n {
		writes += versions(i)
		if secure(i) {
			secures++
		}
	}
	return writes, secures
}

// loadStats describes a finished load.
type loadStats struct {
	Writes   int
	Secure   int
	Duration time.Duration
}

// load writes every parameter of l with PutParameter at concurrency conc,
// printing progress to w every few seconds. If halfway is not nil it is
// called once when half the writes are done.
func load(ctx context.Context, c *benchutil.Client, l layout, conc int, w io.Writer, halfway func()) (loadStats, error) {
	total, secures := l.totals()
	var done, failed atomic.Int64
	var firstErr atomic.Value
	var next atomic.Int64
	var half sync.Once
	start := time.Now()
	stopProgress := make(chan struct{})
	var progress sync.WaitGroup
	progress.Go(func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		last, lastT := int64(0), start
		for {
			select {
			case <-stopProgress:
				return
			case now := <-t.C:
				d := done.Load()
				fmt.Fprintf(w, "  load N=%d: %d/%d writes (%.0f%%), %.0f writes/s now, %.0f writes/s overall, %s\n",
					l.n, d, total, 100*float64(d)/float64(total), float64(d-last)/now.Sub(lastT).Seconds(),
					float64(d)/now.Sub(start).Seconds(), now.Sub(start).Round(time.Second))
				last, lastT = d, now
			}
		}
	})
	put := func(i, version int) {
		typ := "String"
		if secure(i) {
			typ = "SecureString"
		}
		body, _ := json.Marshal(map[string]any{"Name": l.name(i), "Value": l.value(i, version), "Type": typ,
			"Overwrite": version > 1})
		var err error
		for attempt := range 5 {
			if attempt > 0 {
				time.Sleep(time.Duration(attempt) * 50 * time.Millisecond)
			}
			err = c.Do(ctx, "PutParameter", body, nil)
			var se *benchutil.StatusError
			if err == nil || ctx.Err() != nil ||
				(attempt > 0 && errors.As(err, &se) && strings.Contains(se.Body, "ParameterAlreadyExists")) {
				err = nil
				break
			}
		}
		if err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
		}
		if d := done.Add(1); halfway != nil && d == int64(total/2) {
			half.Do(halfway)
		}
	}
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < l.n && ctx.Err() == nil; i = int(next.Add(1)) - 1 {
				for v := 1; v <= versions(i); v++ {
					put(i, v)
				}
			}
		})
	}
	wg.Wait()
	close(stopProgress)
	progress.Wait()
	st := loadStats{Writes: int(done.Load()), Secure: secures, Duration: time.Since(start)}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	if n := failed.Load(); n > 0 {
		return st, fmt.Errorf("%d of %d writes failed; first: %s", n, total, firstErr.Load())
	}
	return st, nil
}

// request makes one request of a measurement.
type request func(rng *rand.Rand) (target string, body []byte)

// measure sends requests from conc workers until n were sent or maxDur has
// passed, and summarizes their latencies (failed requests included). Each
// worker has its own lean connection (benchutil.Conn, as bench/loadgen's),
// so that the generator takes little of the CPU the server is measured on.
func measure(ctx context.Context, c *benchutil.Client, conc, n int, maxDur time.Duration, mk request) (benchutil.Summary, error) {
	lats := make([][]time.Duration, conc)
	var sent, errs atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	deadline := start.Add(maxDur)
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			conn, err := c.Conn()
			if err != nil {
				errs.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			defer conn.Close()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			for sent.Add(1) <= int64(n) && time.Now().Before(deadline) && ctx.Err() == nil {
				target, body := mk(rng)
				t0 := time.Now()
				err := conn.Do(target, body)
				lats[w] = append(lats[w], time.Since(t0))
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return benchutil.Summary{}, errors.New("no request completed")
	}
	s := benchutil.Summarize(all, int(errs.Load()), elapsed)
	if s.Errors > 0 {
		return s, fmt.Errorf("%d of %d requests failed; first: %s", s.Errors, s.Count, firstErr.Load())
	}
	return s, ctx.Err()
}

// listing is the part of a GetParametersByPath or DescribeParameters answer
// the benchmark checks.
type listing struct {
	Parameters []struct{ Name string }
	NextToken  string
}

func fixed(target string, body []byte) request {
	return func(*rand.Rand) (string, []byte) { return target, body }
}

func getRequest(l layout) request {
	return func(rng *rand.Rand) (string, []byte) {
		return "GetParameter", []byte(`{"Name":"` + l.name(rng.IntN(l.n)) + `"}`)
	}
}

func byPathBody(token string) []byte {
	in := map[string]any{"Path": widePath, "MaxResults": 10}
	if token != "" {
		in["NextToken"] = token
	}
	body, _ := json.Marshal(in)
	return body
}

// middleToken pages through /scale/wide up to its middle page and returns
// the token of that page and the page's first name.
func middleToken(ctx context.Context, c *benchutil.Client, l layout) (string, string, error) {
	pages := l.wide / 10 / 2
	token := ""
	for p := 0; p < pages; p++ {
		var out listing
		if err := c.Do(ctx, "GetParametersByPath", byPathBody(token), &out); err != nil {
			return "", "", err
		}
		if out.NextToken == "" {
			return "", "", fmt.Errorf("GetParametersByPath %s: no NextToken after page %d", widePath, p+1)
		}
		token = out.NextToken
	}
	var out listing
	if err := c.Do(ctx, "GetParametersByPath", byPathBody(token), &out); err != nil {
		return "", "", err
	}
	if len(out.Parameters) == 0 {
		return "", "", fmt.Errorf("GetParametersByPath %s: empty middle page", widePath)
	}
	return token, out.Parameters[0].Name, nil
}

var (
	describePathType = []byte(`{"ParameterFilters":[{"Key":"Path","Option":"Recursive","Values":["/scale/app7"]},` +
		`{"Key":"Type","Values":["SecureString"]}],"MaxResults":50}`)
	describeNamePrefix = []byte(`{"ParameterFilters":[{"Key":"Name","Option":"BeginsWith","Values":["/scale/app7/svc3"]}],` +
		`"MaxResults":50}`)
)

// count returns how many parameters one call of a listing returns.
func count(ctx context.Context, c *benchutil.Client, target string, body []byte) (int, error) {
	var out listing
	if err := c.Do(ctx, target, body, &out); err != nil {
		return 0, err
	}
	return len(out.Parameters), nil
}
