// Command load is a small closed-loop HTTP load generator for SSM JSON
// operations whose bodies vary per request (distinct parameter names), which
// hey cannot do. Requests carry a fixed SigV4-shaped Authorization header;
// servers that verify signatures need issue 6's signing generator.
//
//	go run ./bench/load -url http://127.0.0.1:4583 -op put-new -c 16 -d 10s
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:4583", "endpoint")
	op := flag.String("op", "put-new", "put-new (new names), put-overwrite (overwrite one of -n names), get (one of -n names)")
	conc := flag.Int("c", 16, "concurrency")
	dur := flag.Duration("d", 10*time.Second, "duration")
	n := flag.Int("n", 1000, "number of names for put-overwrite and get")
	size := flag.Int("size", 64, "value size in bytes")
	prefix := flag.String("prefix", fmt.Sprintf("/load/%d", time.Now().UnixNano()), "name prefix")
	flag.Parse()

	value := string(bytes.Repeat([]byte("x"), *size))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc * 2}}
	var seq atomic.Int64
	body := func(i int64) (string, []byte) {
		switch *op {
		case "put-new":
			return "PutParameter", fmt.Appendf(nil, `{"Name":"%s/p%d","Value":"%s","Type":"String"}`, *prefix, i, value)
		case "put-overwrite":
			return "PutParameter", fmt.Appendf(nil, `{"Name":"%s/p%d","Value":"%s","Type":"String","Overwrite":true}`, *prefix, i%int64(*n), value)
		case "get":
			return "GetParameter", fmt.Appendf(nil, `{"Name":"%s/p%d"}`, *prefix, i%int64(*n))
		}
		fmt.Fprintln(os.Stderr, "unknown -op", *op)
		os.Exit(2)
		return "", nil
	}
	send := func(target string, b []byte) (int, error) {
		req, _ := http.NewRequest("POST", *url, bytes.NewReader(b))
		req.Header.Set("X-Amz-Target", "AmazonSSM."+target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Date", "20260101T000000Z")
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDLOAD/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000")
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if *op == "get" || *op == "put-overwrite" { // seed the names
		for i := int64(0); i < int64(*n); i++ {
			b := fmt.Appendf(nil, `{"Name":"%s/p%d","Value":"%s","Type":"String","Overwrite":true}`, *prefix, i, value)
			if st, err := send("PutParameter", b); err != nil || st != 200 {
				fmt.Fprintln(os.Stderr, "seed failed:", st, err)
				os.Exit(1)
			}
		}
	}
	var (
		mu    sync.Mutex
		lats  []time.Duration
		fails int
		wg    sync.WaitGroup
	)
	stop := time.Now().Add(*dur)
	start := time.Now()
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for time.Now().Before(stop) {
				target, b := body(seq.Add(1))
				t0 := time.Now()
				st, err := send(target, b)
				mine = append(mine, time.Since(t0))
				if err != nil || st != 200 {
					bad++
				}
			}
			mu.Lock()
			lats = append(lats, mine...)
			fails += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lats)
	pct := func(p float64) float64 {
		if len(lats) == 0 {
			return 0
		}
		return float64(lats[int(p*float64(len(lats)-1))].Microseconds()) / 1000
	}
	fmt.Printf("%.0f %.2f %.2f %d\n", float64(len(lats))/elapsed.Seconds(), pct(0.50), pct(0.99), fails)
}
