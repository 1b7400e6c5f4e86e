package cluster_test

import (
	"context"
	"fmt"
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
			for _, kind := range []string{"write", "read", "read-stale"} {
				b.Run(kind, func(b *testing.B) {
					var next, failed atomic.Int64
					var firstErr atomic.Value
					b.SetParallelism(8) // 8 x GOMAXPROCS clients
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
					if f := failed.Load(); f > 0 {
						b.Errorf("%d of %d requests failed; the first: %v", f, b.N, firstErr.Load())
					}
				})
			}
		})
	}
}
