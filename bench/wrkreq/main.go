// Command wrkreq writes a wrk Lua script that replays one SigV4-signed
// SSM request. A signature stays valid for 15 minutes, and Paramstore (like
// AWS) does not reject a replayed request, so wrk can drive the full
// authenticated read path at a rate no signing Go generator reaches on the
// same cores. The script's done() prints one JSON summary line in the
// shape bench/loadgen uses (RPS, P50, P90, P99, Max in ms, Count, Errors).
//
//	go run ./bench/wrkreq -creds DIR/root-credentials -target GetParameter \
//	    -body '{"Name":"/bench/p1"}' >get.lua
//	wrk -t2 -c16 -d10s -s get.lua http://127.0.0.1:4583/
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/paramstore/paramstore/bench/internal/benchutil"
	"github.com/paramstore/paramstore/internal/awsreq"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:4583/", "endpoint the request is signed for (its host)")
	region := flag.String("region", "us-east-1", "region to sign for")
	credsFile := flag.String("creds", "", "AWS shared credentials file (profile default)")
	target := flag.String("target", "GetParameter", "SSM operation")
	body := flag.String("body", `{"Name":"/bench/p1"}`, "JSON request body")
	flag.Parse()

	creds, err := benchutil.LoadCreds(*credsFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wrkreq:", err)
		os.Exit(2)
	}
	signer := awsreq.NewSigner(credentials.StaticCredentialsProvider{Value: creds}, *region, nil)
	req, err := signer.Post(context.Background(), *url, "AmazonSSM."+*target, []byte(*body))
	if err != nil {
		fmt.Fprintln(os.Stderr, "wrkreq:", err)
		os.Exit(1)
	}

	fmt.Println(`wrk.method = "POST"`)
	fmt.Printf("wrk.body = %s\n", strconv.Quote(*body))
	names := make([]string, 0, len(req.Header))
	for k := range req.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Printf("wrk.headers[%s] = %s\n", strconv.Quote(k), strconv.Quote(req.Header.Get(k)))
	}
	io.WriteString(os.Stdout, doneFunc)
}

// doneFunc reports like bench/loadgen: latencies in milliseconds, and every
// non-2xx answer or socket error counted as an error.
const doneFunc = `
done = function(summary, latency, requests)
  local s = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format('{"RPS":%.1f,"P50":%.3f,"P90":%.3f,"P99":%.3f,"Max":%.3f,"Count":%d,"Errors":%d}\n',
    summary.requests / s, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.requests,
    e.status + e.connect + e.read + e.write + e.timeout))
end
`
